/**
 * Starting fleets on this machine, written once: which verticles and main class each stage has
 * ({@link dev.cherryq.launcher.FleetStages}), the embedded fleet (an in-JVM broker and a service host,
 * {@link dev.cherryq.launcher.EmbeddedFleet}), stage workers as separate JVMs with their readiness and stop
 * ({@link dev.cherryq.launcher.WorkerProcess}), a job as the gateway's request ({@link dev.cherryq.launcher.FleetJob}),
 * the gateway's HTTP client, and a client of the job topics with no gateway in between
 * ({@link dev.cherryq.launcher.KafkaJobClient}). {@code cherryq run} and {@code serve}, the benchmarks and the
 * integration tests start fleets through it; the settings themselves are fleet-runtime's {@code LocalFleetSettings}. The main job's recipe
 * and inputs ({@link dev.cherryq.launcher.DemoJob}, {@link dev.cherryq.launcher.DemoInputs}) and the joined report of a
 * comparison ({@link dev.cherryq.launcher.RunReport}) live here too. Sub-packages: {@code local}, one job in this
 * process; {@code output}, progress bars and figures.
 */
package dev.cherryq.launcher;
