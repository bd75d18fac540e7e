/**
 * The benchmarks, apart from the command line ({@code cherryq bench} is their front end): {@link
 * dev.cherryq.bench.Benchmark} runs the sections over several runs and {@link dev.cherryq.bench.BenchReport} writes
 * docs/BENCHMARKS.md from {@link dev.cherryq.bench.BenchStats}. {@code KernelBench} measures the matmul ceiling and
 * each stage's throughput in this JVM; {@code FleetBench} the same job in one process, on the embedded fleet and on
 * separate processes, with the unit costs of the difference; {@code MainJobBench} the main command's own jobs;
 * {@code BlockwiseBench} block-wise training's memory and block throughput on worker processes. They
 * call the recipe, {@code LocalJob}, the core pipeline and the launcher directly, never another command.
 */
package dev.cherryq.bench;
