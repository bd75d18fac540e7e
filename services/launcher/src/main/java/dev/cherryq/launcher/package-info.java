/**
 * Starting fleets on this machine, written once: which verticles and main class each stage has
 * ({@link dev.cherryq.launcher.FleetStages}), the embedded fleet (an in-JVM broker and a service host,
 * {@link dev.cherryq.launcher.EmbeddedFleet}), stage workers as separate JVMs with their readiness and stop
 * ({@link dev.cherryq.launcher.WorkerProcess}), a job as the gateway's request ({@link dev.cherryq.launcher.FleetJob}),
 * and the gateway's HTTP client. {@code cherryq run} and {@code serve}, the benchmarks and the integration tests start
 * fleets through it; the settings themselves are fleet-runtime's {@code LocalFleetSettings}.
 */
package dev.cherryq.launcher;
