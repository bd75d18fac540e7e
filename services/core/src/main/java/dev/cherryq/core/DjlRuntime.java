package dev.cherryq.core;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way into DJL. Forces offline mode and the tracking opt-out before the PyTorch engine loads;
 * without them DJL's engine start calls home and probes a cloud metadata address (../shared/FACTS.md).
 * Every entry point (main, test, forked worker) goes through {@link #newManager()} or {@link #ensureOffline()}.
 */
public final class DjlRuntime {

    private static final Logger LOG = LoggerFactory.getLogger(DjlRuntime.class);
    private static volatile boolean engineLogged;

    private DjlRuntime() {}

    /** Sets the offline properties; idempotent and cheap, so call it before anything touches DJL. */
    public static void ensureOffline() {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
        System.setProperty("DJL_OFFLINE", "true");
        if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
            String threads = System.getenv("CHERRYQ_THREADS");
            if (threads != null && !threads.isBlank()) {
                System.setProperty("ai.djl.pytorch.num_threads", threads.trim());
            }
        }
    }

    /** The PyTorch engine, loaded offline; logs its version and threads once. */
    public static Engine engine() {
        ensureOffline();
        Engine engine = Engine.getEngine("PyTorch");
        if (!engineLogged) {
            engineLogged = true;
            LOG.info("DJL engine {} {} (offline, threads={})", engine.getEngineName(), engine.getVersion(),
                    System.getProperty("ai.djl.pytorch.num_threads", "default"));
        }
        return engine;
    }

    /** Arrays alive in the whole engine (every manager): for leak checks. */
    public static int liveArrayCount() {
        try (NDManager probe = newManager()) {
            return probe.getParentManager().getManagedArrays().size();
        }
    }

    /** A new root manager on the CPU of the PyTorch engine; close it to free its native memory. */
    public static NDManager newManager() {
        return engine().newBaseManager();
    }

    /**
     * Makes the calling thread compute as the engine-loading thread does. PyTorch keeps grad mode and the intra-op
     * thread count per thread: grad mode is on by default (DJL switches it off only on the thread that loads the
     * engine, and a GradientCollector restores whatever it found), and the thread count falls back to the core
     * count, which changes reduction order. Training, scoring and evaluation call this first, so a fleet service's
     * compute worker gets the same numbers as the command line.
     */
    public static void prepareComputeThread() {
        engine();
        ai.djl.pytorch.jni.JniUtils.setGradMode(false);
        String threads = System.getProperty("ai.djl.pytorch.num_threads");
        if (threads != null && threads.matches("\\d+") && Integer.parseInt(threads) > 0) {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(Integer.parseInt(threads));
        }
    }
}
