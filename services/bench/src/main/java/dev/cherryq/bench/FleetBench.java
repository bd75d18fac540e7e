package dev.cherryq.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.Progress;
import dev.cherryq.core.eval.EvalCorpus;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.recipe.CherryqPipeline;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.job.Folders;
import dev.cherryq.fleet.kafka.EmbeddedKafkaBroker;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.metrics.ProcessMemory;
import dev.cherryq.fleet.storage.FilesystemObjectStore;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.launcher.EmbeddedFleet;
import dev.cherryq.launcher.FleetJob;
import dev.cherryq.launcher.GatewayClient;
import dev.cherryq.launcher.WorkerProcess;
import dev.cherryq.launcher.local.LocalJob;
import dev.cherryq.proto.v1.JobEvent;
import dev.cherryq.proto.v1.TensorRef;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Whole-job measurements: the same CherryQ job in one process ({@link LocalJob} and the pipeline's evaluation, as
 * {@code quantize} + {@code eval} run it), on the embedded fleet (as {@code run} runs it), and on a fleet of separate
 * stage processes (broker and gateway in this JVM, each stage its own JVM with one PyTorch thread), with time per job
 * state, each worker's peak RSS, and the unit costs that explain the fleet's overhead (a Kafka round trip,
 * object-store throughput, a model load).
 */
final class FleetBench {

    /** Where a job in this process prints: nowhere (its progress bars still go to stderr). */
    private static final PrintWriter QUIET = new PrintWriter(Writer.nullWriter());

    private FleetBench() {}

    /** One job's settings, shared by every mode so the three do the same work; the rest are the recipe's defaults. */
    record Job(Path model, Path calibration, Path training, Path heldOut, int calibSamples, int calibShards, int steps,
            int segmentSteps, int seqLen, int batchSize, int evalWindowsPerShard, TrainingMode trainingMode) {

        /** The job with end-to-end training. */
        Job(Path model, Path calibration, Path training, Path heldOut, int calibSamples, int calibShards, int steps,
                int segmentSteps, int seqLen, int batchSize, int evalWindowsPerShard) {
            this(model, calibration, training, heldOut, calibSamples, calibShards, steps, segmentSteps, seqLen,
                    batchSize, evalWindowsPerShard, TrainingMode.END_TO_END);
        }

        /** The same job, trained {@code mode}. */
        Job withTrainingMode(TrainingMode mode) {
            return new Job(model, calibration, training, heldOut, calibSamples, calibShards, steps, segmentSteps,
                    seqLen, batchSize, evalWindowsPerShard, mode);
        }

        /** CherryQ at 3 bits in groups of 32, seed 0, with these samples, steps, batch, window and training mode. */
        QuantizationRecipe recipe() {
            QuantizationRecipe defaults = QuantizationRecipe.DEFAULTS;
            return defaults.withMethod(QuantMethod.CHERRYQ).withBits(3).withGroupSize(32)
                    .withCalibrationSamples(calibSamples)
                    .withTraining(defaults.training().withSteps(steps).withBatchSize(batchSize)
                            .withMode(trainingMode))
                    .withSequenceLength(seqLen).withSeed(0).validate();
        }

        /** The job as a fleet runs it, without baseline rows. */
        FleetJob fleetJob() {
            return new FleetJob(recipe(), model.toAbsolutePath().normalize(), calibration.toAbsolutePath().normalize(),
                    training.toAbsolutePath().normalize(), heldOut.toAbsolutePath().normalize(), calibShards,
                    segmentSteps, evalWindowsPerShard, List.of());
        }
    }

    /** Wall seconds of one job and its CherryQ mean NLL on the held-out text. */
    record JobTime(double seconds, double meanNll) {}

    /** The job in this process: quantize, then evaluate the result on the held-out text. */
    static JobTime inProcess(Job job, Path scratch) throws Exception {
        Path out = scratch.resolve("in-process");
        long started = System.nanoTime();
        new LocalJob(job.recipe(), job.model(), null, job.calibration(), job.training(), 0, out).run(QUIET);
        double meanNll;
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(out)) {
            int[] ids = EvalCorpus.tokenizeText(job.heldOut(), checkpoint.tokenizer(null), EvalCorpus.DocumentJoin.GPTQ);
            meanNll = meanNll(checkpoint, ids, job.seqLen());
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        Folders.deleteRecursively(out);
        return new JobTime(seconds, meanNll);
    }

    /** The job on a fresh embedded fleet, from the broker's start to its report. */
    static JobTime embedded(Job job, Path scratch) throws Exception {
        Path root = scratch.resolve("embedded");
        long started = System.nanoTime();
        JsonNode report = onEmbeddedFleet(List.of(job.fleetJob()), root).get(0);
        double seconds = (System.nanoTime() - started) / 1e9;
        Folders.deleteRecursively(root);
        return new JobTime(seconds, report.path("results").get(0).path("mean_nll").asDouble());
    }

    /**
     * What {@code cherryq run} does with the jobs, but its console: an embedded fleet with every stage under
     * {@code root}, the jobs submitted and followed to their end; their reports, in order.
     */
    static List<JsonNode> onEmbeddedFleet(List<FleetJob> jobs, Path root) throws Exception {
        FleetJob main = jobs.get(0);
        try (EmbeddedFleet fleet = EmbeddedFleet.start("embedded", "all", root, main.model(), main.texts(), Map.of())) {
            fleet.awaitReady(Duration.ofSeconds(60));
            return fleet.complete(jobs);
        }
    }

    /** Mean NLL of a model on token ids in consecutive windows of {@code length}, 8 windows a batch. */
    static double meanNll(LlamaCheckpoint checkpoint, int[] ids, int length) {
        try (LlamaModel llama = LlamaModel.load(checkpoint)) {
            return CherryqPipeline.evaluate(llama, ids, length, 0, ids.length / length, 8, Progress.NONE).meanNll();
        }
    }

    /**
     * A fleet of separate stage processes: what one job cost, where its time went, and what the workers held.
     *
     * @param report the gateway's report of the job ({@code results}, with {@code trainer_workers} for block-wise)
     * @param events the job's events, in topic order
     */
    record ProcessRun(double seconds, double meanNll, Map<String, Double> secondsByState,
            Map<String, Double> peakRssMibByWorker, Map<String, Integer> recordsByTopic, int objects, long objectBytes,
            Map<String, Double> tasksByWorker, Soak soak,
            long fisherPartialBytes, TaskTimeline timeline, JsonNode report, List<JobEvent> events) {

        ProcessRun withSoak(Soak measured) {
            return new ProcessRun(seconds, meanNll, secondsByState, peakRssMibByWorker, recordsByTopic, objects,
                    objectBytes, tasksByWorker, measured, fisherPartialBytes, timeline, report, events);
        }
    }

    /**
     * Every worker's RSS over a soak, in MiB, one sample per job by worker name: right after the job, and again
     * {@link #SOAK_IDLE_SECONDS} later with the fleet idle (the workers' idle collection and C-heap trim done).
     */
    record Soak(Map<String, List<Double>> afterJobMib, Map<String, List<Double>> idleMib, double minutes) {

        static final Soak NONE = new Soak(Map.of(), Map.of(), 0);

        boolean measured() {
            return !afterJobMib.isEmpty();
        }
    }

    /**
     * Seconds a soak waits after each job before its idle sample: past the workers' G1 periodic collection (3 idle
     * seconds, checked every 3) and their C-heap trim (1 idle second).
     */
    static final int SOAK_IDLE_SECONDS = 7;

    /**
     * Runs the job once on a fresh process fleet and measures it; then, when {@code soakMinutes} is positive, keeps
     * submitting the same job to the same workers for that long and samples every worker's RSS after each job, and
     * again {@link #SOAK_IDLE_SECONDS} later, before the next job.
     */
    static ProcessRun processes(Job job, Path scratch, int scorers, int evaluators, double soakMinutes,
            PrintWriter console) throws Exception {
        Path root = scratch.resolve("processes-" + scorers + "-" + evaluators);
        FleetJob fleetJob = job.fleetJob();
        try (EmbeddedFleet fleet = processFleet(root, fleetJob, workerCounts(scorers, 1, evaluators), Map.of())) {
            ProcessRun run = measure(fleet, job);
            Map<String, List<Double>> afterJob = new LinkedHashMap<>();
            Map<String, List<Double>> idle = new LinkedHashMap<>();
            GatewayClient client = fleet.client();
            long soakStarted = System.nanoTime();
            int soakJobs = 0;
            while ((System.nanoTime() - soakStarted) / 60e9 < soakMinutes) {
                String next = client.submit(fleetJob.requestJson(), null).path("job_id").asText();
                JsonNode end = client.watch(next, ignored -> { });
                if (!end.path("state").asText().equals("JOB_STATE_COMPLETED")) {
                    throw new IllegalStateException("soak job " + next + " failed: " + end);
                }
                soakJobs++;
                for (WorkerProcess worker : fleet.workers()) {
                    afterJob.computeIfAbsent(worker.name(), key -> new ArrayList<>())
                            .add(currentRssMib(worker.pid()));
                }
                Thread.sleep(SOAK_IDLE_SECONDS * 1000L);
                for (WorkerProcess worker : fleet.workers()) {
                    idle.computeIfAbsent(worker.name(), key -> new ArrayList<>()).add(currentRssMib(worker.pid()));
                }
                console.printf("  soak: %d jobs, %.1f min%n", soakJobs, (System.nanoTime() - soakStarted) / 60e9);
                console.flush();
            }
            return run.withSoak(new Soak(afterJob, idle, (System.nanoTime() - soakStarted) / 60e9));
        }
    }

    /** Worker processes per stage: one planner and one selector, and the given scorers, trainers and evaluators. */
    static Map<String, Integer> workerCounts(int scorers, int trainers, int evaluators) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        counts.put("planner", 1);
        counts.put("scorer", scorers);
        counts.put("selector", 1);
        counts.put("trainer", trainers);
        counts.put("evaluator", evaluators);
        return counts;
    }

    /**
     * A fresh fleet under {@code root} (emptied first): broker and gateway in this JVM, {@code counts} worker
     * processes per stage with 1 PyTorch thread each and {@code settings} beside the fleet's own, every one ready.
     */
    static EmbeddedFleet processFleet(Path root, FleetJob job, Map<String, Integer> counts,
            Map<String, String> settings) throws Exception {
        Folders.deleteRecursively(root);
        Map<String, String> overrides = new LinkedHashMap<>(settings);
        overrides.put("CHERRYQ_THREADS", "1");
        EmbeddedFleet fleet = EmbeddedFleet.start("bench-gateway", "gateway", root, job.model(), job.texts(),
                overrides);
        try {
            for (Map.Entry<String, Integer> stage : counts.entrySet()) {
                for (int i = 1; i <= stage.getValue(); i++) {
                    fleet.startWorker(stage.getKey(), i);
                }
            }
            fleet.awaitReady(Duration.ofSeconds(60));
            for (WorkerProcess worker : fleet.workers()) {
                worker.awaitReady(Duration.ofSeconds(180));
            }
            return fleet;
        } catch (Exception | Error e) {
            fleet.close();
            throw e;
        }
    }

    /**
     * Submits the job to a ready fleet, follows it to COMPLETED, and measures it: time per state, every worker's peak
     * RSS so far and tasks logged so far, the job's records and objects, its report and events.
     */
    static ProcessRun measure(EmbeddedFleet fleet, Job job) throws Exception {
        FleetJob fleetJob = job.fleetJob();
        GatewayClient client = fleet.client();
        long started = System.nanoTime();
        String jobId = client.submit(fleetJob.requestJson(), null).path("job_id").asText();
        Map<String, Long> firstSeen = new LinkedHashMap<>(); // state -> when its first event arrived
        JsonNode status = client.watch(jobId, event -> firstSeen.putIfAbsent(event.path("state").asText(),
                System.nanoTime()));
        double seconds = (System.nanoTime() - started) / 1e9;
        if (status == null || !status.path("state").asText().equals("JOB_STATE_COMPLETED")) {
            throw new IllegalStateException("job " + jobId + " did not complete: " + status);
        }
        Map<String, Double> byState = new LinkedHashMap<>();
        List<Map.Entry<String, Long>> seen = new ArrayList<>(firstSeen.entrySet());
        for (int i = 0; i + 1 < seen.size(); i++) {
            byState.put(seen.get(i).getKey().replace("JOB_STATE_", "").toLowerCase(java.util.Locale.ROOT),
                    (seen.get(i + 1).getValue() - seen.get(i).getValue()) / 1e9);
        }
        JsonNode report = client.report(jobId);
        Map<String, Double> rss = new LinkedHashMap<>();
        Map<String, Double> tasks = new LinkedHashMap<>();
        for (WorkerProcess worker : fleet.workers()) {
            rss.put(worker.name(), peakRssMib(worker.pid()));
            tasks.put(worker.name(), (double) Files.readString(worker.log()).lines()
                    .filter(line -> line.contains("task done")).count());
        }
        List<JobEvent> events = new ArrayList<>();
        Map<String, Integer> records = recordsOfJob(fleet.config(), jobId, events);
        int objects = 0;
        long bytes = 0;
        long partialBytes = 0; // every shard's partial, all its layer groups
        try (ObjectStore store = new FilesystemObjectStore(fleet.store())) {
            for (String key : store.list("jobs/" + jobId + "/")) {
                objects++;
                long size = Files.size(fleet.store().resolve(key));
                bytes += size;
                if (key.contains("/scorer/fisher-") && key.endsWith(".safetensors")) {
                    partialBytes += size;
                }
            }
        }
        return new ProcessRun(seconds, report.path("results").get(0).path("mean_nll").asDouble(), byState, rss,
                records, objects, bytes, tasks, Soak.NONE, partialBytes / Math.max(1, job.calibShards()),
                TaskTimeline.of(events, partialBytes), report, List.copyOf(events));
    }

    /** VmHWM (peak resident set) of a live process in MiB (Linux), NaN elsewhere. */
    static double peakRssMib(long pid) {
        return statusMib(pid, "VmHWM:");
    }

    /** VmRSS (resident set now) of a live process in MiB (Linux), NaN elsewhere. */
    static double currentRssMib(long pid) {
        return statusMib(pid, "VmRSS:");
    }

    private static double statusMib(long pid, String field) {
        long kilobytes = ProcessMemory.statusKilobytes(pid, field);
        return kilobytes < 0 ? Double.NaN : kilobytes / 1024.0;
    }

    /**
     * How many records each topic carries for one job (keys are the job id or start with it); its job events, in
     * topic order, go to {@code events}.
     */
    private static Map<String, Integer> recordsOfJob(FleetConfig config, String jobId, List<JobEvent> events)
            throws Exception {
        Map<String, Integer> counts = new LinkedHashMap<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaClients(config).consumer(null, "bench-counter")) {
            for (var topic : Topics.ALL) {
                List<TopicPartition> partitions = KafkaClients.assignFromBeginning(consumer, topic);
                Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
                int count = 0;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p))
                        && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                        if (record.key() != null && (record.key().equals(jobId) || record.key().startsWith(jobId + "/"))) {
                            count++;
                            if (topic == Topics.JOB_EVENTS) {
                                events.add(JobEvent.parseFrom(record.value()));
                            }
                        }
                    }
                }
                counts.put(topic.name(), count);
            }
        }
        return counts;
    }

    /** Unit costs on this machine: Kafka produce-to-consume round trip, store write+verified read, model load. */
    record UnitCosts(double kafkaRoundTripMs, double storeMiBPerSecond, double modelLoadSeconds,
            double fleetStartSeconds) {}

    static UnitCosts unitCosts(Path model, Path scratch) throws Exception {
        Path root = scratch.resolve("unit-costs");
        Folders.deleteRecursively(root);
        double roundTrip;
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(root.resolve("kafka"), 0)) {
            Map<String, String> environment = Map.of(FleetConfig.BOOTSTRAP_SERVERS.name(), broker.bootstrapServers(),
                    FleetConfig.STORE_DIR.name(), root.resolve("store").toString());
            KafkaClients clients = new KafkaClients(FleetConfig.from(environment));
            clients.ensureTopics(List.of(Topics.DEAD_LETTERS));
            String topic = Topics.DEAD_LETTERS.name();
            try (KafkaProducer<String, byte[]> producer = clients.producer("bench-ping");
                    KafkaConsumer<String, byte[]> consumer = clients.consumer(null, "bench-pong")) {
                List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                        .map(info -> new TopicPartition(topic, info.partition())).toList();
                consumer.assign(partitions);
                consumer.seekToEnd(partitions);
                partitions.forEach(consumer::position);
                List<Double> trips = new ArrayList<>();
                byte[] payload = new byte[2048]; // about a task message with its request
                for (int i = 0; i < 60; i++) {
                    long sent = System.nanoTime();
                    producer.send(new ProducerRecord<>(topic, "ping-" + i, payload)).get();
                    int got = 0;
                    while (got == 0 && System.nanoTime() - sent < TimeUnit.SECONDS.toNanos(10)) {
                        got = consumer.poll(Duration.ofMillis(1)).count();
                    }
                    if (i >= 10) {
                        trips.add((System.nanoTime() - sent) / 1e6);
                    }
                }
                trips.sort(Double::compare);
                roundTrip = trips.get(trips.size() / 2);
            }
        }
        double storeRate;
        try (ObjectStore store = new FilesystemObjectStore(root.resolve("store"))) {
            byte[] bytes = new byte[32 << 20];
            new Random(1).nextBytes(bytes);
            Path source = Files.write(root.resolve("blob"), bytes);
            long started = System.nanoTime();
            int rounds = 4;
            for (int i = 0; i < rounds; i++) {
                TensorRef ref = store.put("bench/blob-" + i, source, ObjectStore.MEDIA_BYTES, "");
                Files.deleteIfExists(store.fetch(ref, root.resolve("cache")));
            }
            storeRate = (double) rounds * bytes.length / (1 << 20) / ((System.nanoTime() - started) / 1e9);
        }
        long started = System.nanoTime();
        int loads = 3;
        for (int i = 0; i < loads; i++) {
            try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(model); LlamaModel ignored = LlamaModel.load(checkpoint)) {
                // open, read and convert every tensor, as each fleet task does
            }
        }
        double load = (System.nanoTime() - started) / 1e9 / loads;
        // what `run` does before it can submit: a broker, topics, every stage's consumer in its group; and the stop
        long fleetStarted = System.nanoTime();
        try (EmbeddedFleet fleet = EmbeddedFleet.start("bench-start", "all", root.resolve("fleet"),
                model.toAbsolutePath(), List.of(model.toAbsolutePath()), Map.of())) {
            fleet.awaitReady(Duration.ofSeconds(60));
        }
        double fleetStart = (System.nanoTime() - fleetStarted) / 1e9;
        Folders.deleteRecursively(root);
        return new UnitCosts(roundTrip, storeRate, load, fleetStart);
    }
}
