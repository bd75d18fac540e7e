package dev.cherryq.fleet.task;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Where stage compute runs: off the event loop and off the consumer threads, on one worker thread per process,
 * because DJL allows one GradientCollector per JVM (scoring and training both take gradients).
 */
@FunctionalInterface
public interface ComputeExecutor {

    <T> CompletableFuture<T> submit(Callable<T> work);
}
