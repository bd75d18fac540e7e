package dev.cherryq.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.EmbeddedKafkaBroker;
import dev.cherryq.fleet.kafka.KafkaClients;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.storage.FilesystemObjectStore;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.proto.v1.TensorRef;
import java.io.PrintWriter;
import java.io.StringWriter;
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
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.GatewayClient;
import dev.cherryq.launcher.EmbeddedFleet;
import dev.cherryq.launcher.WorkerProcess;
import dev.cherryq.launcher.local.StageMeter;

/**
 * Whole-job measurements: the same CherryQ job in one process ({@code quantize} + {@code eval}), on the embedded
 * fleet ({@code run}), and on a fleet of separate stage processes (broker and gateway in this JVM, each stage its own
 * JVM with one PyTorch thread), with time per job state, each worker's peak RSS, and the unit costs that explain
 * the fleet's overhead (a Kafka round trip, object-store throughput, a model load).
 */
final class FleetBench {

    private FleetBench() {}

    /** One job's settings, shared by every mode so the three do the same work; the rest are the recipe's defaults. */
    record Job(Path model, Path calibration, Path training, Path heldOut, int calibSamples, int calibShards, int steps,
            int segmentSteps, int seqLen, int batchSize, int evalWindowsPerShard) {

        String[] quantizeArgs(Path out) {
            return new String[] {"quantize", "--model", model.toString(), "--method", "cherryq", "--bits", "3",
                    "--group-size", "32", "--calib-text", calibration.toString(), "--calib-samples",
                    Integer.toString(calibSamples), "--train-text", training.toString(), "--steps", Integer.toString(steps),
                    "--batch-size", Integer.toString(batchSize), "--seq-len", Integer.toString(seqLen),
                    "--seed", "0", "--checkpoint-every", "0", "--out", out.toString()};
        }

        String[] evalArgs(Path quantized) {
            return new String[] {"eval", "--model", quantized.toString(), "--text", heldOut.toString(), "--seq-len",
                    Integer.toString(seqLen), "--batch-size", "8", "--format", "json"};
        }

        String[] runArgs(Path out) {
            return new String[] {"run", "--model", model.toString(), "--eval-text", heldOut.toString(), "--train-text",
                    training.toString(), "--calib-text", calibration.toString(), "--calib-samples",
                    Integer.toString(calibSamples), "--calib-shards", Integer.toString(calibShards), "--steps",
                    Integer.toString(steps), "--segment-steps", Integer.toString(segmentSteps), "--seq-len",
                    Integer.toString(seqLen), "--batch-size", Integer.toString(batchSize), "--eval-windows-per-shard",
                    Integer.toString(evalWindowsPerShard), "--baselines", "none", "--compare", "none", "--out", out.toString()};
        }

        String requestJson() {
            ObjectNode request = Json.object();
            request.put("model", model.toString()).put("eval_data", heldOut.toString()).put("method", "cherryq")
                    .put("bits", 3).put("group_size", 32).put("calibration_data", calibration.toString())
                    .put("calibration_samples", calibSamples).put("calibration_shards", calibShards)
                    .put("train_data", training.toString()).put("steps", steps).put("segment_steps", segmentSteps)
                    .put("batch_size", batchSize).put("seq_len", seqLen).put("seed", 0)
                    .put("eval_windows_per_shard", evalWindowsPerShard).put("eval_batch_size", 8);
            request.putArray("baselines");
            return Json.line(request);
        }
    }

    /** Wall seconds of {@code quantize} then {@code eval}; returns the CherryQ mean NLL too. */
    static double[] inProcess(Job job, Path scratch) throws Exception {
        Path out = scratch.resolve("in-process");
        long started = System.nanoTime();
        command(job.quantizeArgs(out));
        JsonNode eval = Json.MAPPER.readTree(command(job.evalArgs(out)));
        double seconds = (System.nanoTime() - started) / 1e9;
        CherryqCommand.deleteRecursively(out);
        return new double[] {seconds, eval.path("mean_nll").asDouble()};
    }

    /** Wall seconds of {@code cherryq run} (broker start to the printed table); returns the CherryQ mean NLL too. */
    static double[] embedded(Job job, Path scratch) throws Exception {
        Path out = scratch.resolve("embedded");
        long started = System.nanoTime();
        command(job.runArgs(out));
        double seconds = (System.nanoTime() - started) / 1e9;
        JsonNode report = Json.MAPPER.readTree(Files.readString(out.resolve("report.json")));
        CherryqCommand.deleteRecursively(out);
        return new double[] {seconds, report.path("results").get(0).path("mean_nll").asDouble()};
    }

    private static String command(String[] args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = CherryqCommand.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        if (status != 0) {
            throw new IllegalStateException("cherryq " + args[0] + " failed (" + status + "): " + err);
        }
        return out.toString();
    }

    /** A fleet of separate stage processes: what one job cost, where its time went, and what the workers held. */
    record ProcessRun(double seconds, double meanNll, Map<String, Double> secondsByState,
            Map<String, Double> peakRssMibByWorker, Map<String, Integer> recordsByTopic, int objects, long objectBytes,
            Map<String, Double> tasksByWorker, Map<String, List<Double>> soakRssMib, double soakMinutes,
            long fisherPartialBytes) {}

    /**
     * Runs the job once on a fresh process fleet and measures it; then, when {@code soakMinutes} is positive, keeps
     * submitting the same job to the same workers for that long and samples every worker's RSS after each job.
     */
    static ProcessRun processes(Job job, Path scratch, int scorers, int evaluators, double soakMinutes,
            PrintWriter console) throws Exception {
        Path root = scratch.resolve("processes-" + scorers + "-" + evaluators);
        CherryqCommand.deleteRecursively(root);
        Map<String, Integer> counts = new LinkedHashMap<>();
        counts.put("scorer", scorers);
        counts.put("selector", 1);
        counts.put("trainer", 1);
        counts.put("evaluator", evaluators);
        try (EmbeddedFleet fleet = EmbeddedFleet.start("bench-gateway", "gateway", root, job.model().toAbsolutePath(),
                List.of(job.heldOut(), job.training(), job.calibration()), Map.of("CHERRYQ_THREADS", "1"))) {
            for (Map.Entry<String, Integer> stage : counts.entrySet()) {
                for (int i = 1; i <= stage.getValue(); i++) {
                    fleet.startWorker(stage.getKey(), i);
                }
            }
            fleet.awaitReady(Duration.ofSeconds(60));
            List<WorkerProcess> workers = fleet.workers();
            for (WorkerProcess worker : workers) {
                worker.awaitReady(Duration.ofSeconds(180));
            }
            GatewayClient client = fleet.client();
            long started = System.nanoTime();
            String jobId = client.submit(job.requestJson(), null).path("job_id").asText();
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
            for (WorkerProcess worker : workers) {
                rss.put(worker.name(), peakRssMib(worker.pid()));
                tasks.put(worker.name(), (double) Files.readString(worker.log()).lines()
                        .filter(line -> line.contains("task done")).count());
            }
            Map<String, Integer> records = recordsOfJob(fleet.config(), jobId);
            int objects = 0;
            long bytes = 0;
            long partialBytes = 0;
            try (ObjectStore store = new FilesystemObjectStore(fleet.store())) {
                for (String key : store.list("jobs/" + jobId + "/")) {
                    objects++;
                    long size = Files.size(fleet.store().resolve(key));
                    bytes += size;
                    if (key.contains("/scorer/")) {
                        partialBytes = Math.max(partialBytes, size);
                    }
                }
            }
            Map<String, List<Double>> soak = new LinkedHashMap<>();
            long soakStarted = System.nanoTime();
            int soakJobs = 0;
            while ((System.nanoTime() - soakStarted) / 60e9 < soakMinutes) {
                String next = client.submit(job.requestJson(), null).path("job_id").asText();
                JsonNode end = client.watch(next, ignored -> { });
                if (!end.path("state").asText().equals("JOB_STATE_COMPLETED")) {
                    throw new IllegalStateException("soak job " + next + " failed: " + end);
                }
                soakJobs++;
                for (WorkerProcess worker : workers) {
                    soak.computeIfAbsent(worker.name(), key -> new ArrayList<>())
                            .add(currentRssMib(worker.pid()));
                }
                console.printf("  soak: %d jobs, %.1f min%n", soakJobs, (System.nanoTime() - soakStarted) / 60e9);
                console.flush();
            }
            return new ProcessRun(seconds, report.path("results").get(0).path("mean_nll").asDouble(), byState, rss,
                    records, objects, bytes, tasks, soak, (System.nanoTime() - soakStarted) / 60e9, partialBytes);
        }
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
        long kilobytes = StageMeter.statusKilobytes(pid, field);
        return kilobytes < 0 ? Double.NaN : kilobytes / 1024.0;
    }

    /** How many records each topic carries for one job (keys are the job id or start with it). */
    private static Map<String, Integer> recordsOfJob(FleetConfig config, String jobId) {
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
        CherryqCommand.deleteRecursively(root);
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
        CherryqCommand.deleteRecursively(root);
        return new UnitCosts(roundTrip, storeRate, load, fleetStart);
    }
}
