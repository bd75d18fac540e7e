package dev.cherryq.launcher;

import dev.cherryq.fleet.config.FleetConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fleet process started as a separate JVM on this JVM's class path: a stage worker of a local fleet, or any main
 * class a test names. It gets the fleet's settings in place of the caller's {@code CHERRYQ_*} variables, DJL's
 * offline switches, its own work folder and a log file. It is ready when its log names its HTTP port and that port
 * answers {@code /ready} with 200 (every consumer holds its assignment).
 */
public final class WorkerProcess {

    /**
     * JVM options of a stage worker of {@code cherryq run} and the benchmarks. The G1 settings (the images set the
     * same) run a collection after 3 idle seconds and give the freed heap back to the OS, so a worker's Java heap
     * returns to its floor between jobs: over 30-minute soaks the worst stage's growth fell from 9.2% (the scorer's
     * heap, default G1) to 6.1% (docs/BENCHMARKS.md, Findings 5). The C heap, where PyTorch's tensors live, is
     * trimmed by the worker itself when idle ({@code fleet.task.NativeHeap}).
     */
    public static final List<String> STAGE_JVM_OPTIONS = List.of("-Xmx2g", "-XX:G1PeriodicGCInterval=3000",
            "-XX:MaxHeapFreeRatio=30", "-XX:MinHeapFreeRatio=10", "-Dai.djl.offline=true", "-DOPT_OUT_TRACKING=true",
            "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn");

    /**
     * The option the stages that run no PyTorch (planner, selector, gateway) add: compile with C1 only. Their work is
     * mostly I/O and bookkeeping, and under C2 their compiled code kept growing for the whole of a 30-minute soak,
     * past the 5% memory target; under C1 it grows more slowly and levels off, and the three soaks since met the
     * target (docs/BENCHMARKS.md, Findings 5). It costs the selector's computation about 3.5x
     * ({@code scripts/SelectorJitCost.java}). The deploy manifests give the same stages the same option
     * ({@code JDK_JAVA_OPTIONS}).
     */
    public static final String LIGHT_STAGE_JVM_OPTION = "-XX:TieredStopAtLevel=1";

    /** The stages that add {@link #LIGHT_STAGE_JVM_OPTION}. */
    public static final List<String> LIGHT_STAGES = List.of("planner", "selector", "gateway");

    /** The JVM options of one stage's worker process: {@link #STAGE_JVM_OPTIONS}, and C1 only for light stages. */
    public static List<String> stageJvmOptions(String stage) {
        List<String> options = new ArrayList<>(STAGE_JVM_OPTIONS);
        if (LIGHT_STAGES.contains(stage)) {
            options.add(LIGHT_STAGE_JVM_OPTION);
        }
        return List.copyOf(options);
    }

    /** The line {@code ServiceHost} logs once it serves HTTP: its port is the process's. */
    private static final Pattern READY_LINE = Pattern.compile("ready; .* http://[^/:\\s]+:(\\d+)/metrics");
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    /**
     * How to start one process.
     *
     * @param name its name in logs and reports ("scorer-2"); the log is {@code logs/<name>.log}
     * @param settings the fleet's settings; a null value removes the variable
     * @param workDirectory its own scratch and download cache
     */
    public record Launch(String name, String mainClass, List<String> arguments, List<String> jvmOptions,
            Map<String, String> settings, Path workDirectory, Path logs) {}

    private final String name;
    private final Process process;
    private final Path log;
    private volatile int port = -1;

    private WorkerProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** Starts the process; it is not ready yet ({@link #awaitReady}). */
    public static WorkerProcess start(Launch launch) throws IOException {
        Path log = Files.createDirectories(launch.logs()).resolve(launch.name() + ".log");
        String java = ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java");
        List<String> command = new ArrayList<>(List.of(java));
        command.addAll(launch.jvmOptions());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), launch.mainClass()));
        command.addAll(launch.arguments());
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().keySet().removeIf(key -> key.startsWith("CHERRYQ_"));
        builder.environment().put("OPT_OUT_TRACKING", "true");
        builder.environment().put("DJL_OFFLINE", "true");
        launch.settings().forEach((key, value) -> {
            if (value == null) {
                builder.environment().remove(key);
            } else {
                builder.environment().put(key, value);
            }
        });
        builder.environment().put(FleetConfig.WORK_DIR.name(), launch.workDirectory().toString());
        return new WorkerProcess(launch.name(), builder.start(), log);
    }

    /**
     * A stage worker ({@link FleetStages#mainClass}) named {@code <stage>-<index>} on a local fleet whose folders sit
     * under {@code root}: its work folder {@code root/work-<name>}, its log {@code root/logs/<name>.log}.
     */
    public static WorkerProcess startStage(String stage, int index, Map<String, String> settings, Path root)
            throws IOException {
        String name = stage + "-" + index;
        return start(new Launch(name, FleetStages.mainClass(stage), List.of(), stageJvmOptions(stage), settings,
                root.resolve("work-" + name), root.resolve("logs")));
    }

    public String name() {
        return name;
    }

    public long pid() {
        return process.pid();
    }

    public Process process() {
        return process;
    }

    public Path log() {
        return log;
    }

    /** The HTTP port (/metrics, /ready), known once the process is ready; -1 before. */
    public int port() {
        return port;
    }

    /**
     * Waits until the process serves HTTP and answers {@code /ready}; returns it. Fails at once with its log when it
     * exits, and after {@code timeout} with its log.
     */
    public WorkerProcess awaitReady(Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited with " + process.exitValue() + ":\n"
                        + Files.readString(log));
            }
            Matcher ready = READY_LINE.matcher(Files.readString(log));
            if (ready.find()) {
                port = Integer.parseInt(ready.group(1));
                if (isReady()) {
                    return this;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + " not ready within " + timeout.toSeconds() + " s:\n"
                        + Files.readString(log));
            }
            Thread.sleep(100);
        }
    }

    /** Whether {@code /ready} answers 200 now. */
    public boolean isReady() {
        try {
            return port > 0 && get("/ready").statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The process's Prometheus text. */
    public String metrics() throws IOException, InterruptedException {
        return get("/metrics").body();
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** SIGTERM (a clean shutdown), then SIGKILL when it still runs after {@code grace}. */
    public void stop(Duration grace) {
        process.destroy();
        try {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** SIGKILL (no shutdown hook, no consumer leave, no commit), then waits for the process to be gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(name + " survived SIGKILL for 30 s");
        }
    }
}
