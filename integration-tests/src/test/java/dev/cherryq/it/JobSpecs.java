package dev.cherryq.it;

import dev.cherryq.fleet.testing.FleetHarness;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The small jobs the integration tests run on the committed demo model, and the texts they read. */
final class JobSpecs {

    private JobSpecs() {}

    /** Writes calibration, training and held-out text (deterministic English-like prose) into a data root. */
    static void writeTexts(Path data) throws IOException {
        Files.writeString(data.resolve("calibration.txt"), FleetHarness.sampleText(30, 1));
        Files.writeString(data.resolve("train.txt"), FleetHarness.sampleText(40, 2));
        Files.writeString(data.resolve("heldout.txt"), FleetHarness.sampleText(12, 3));
    }

    /**
     * A CherryQ job with work in every stage: 2 scoring shards, 2 QAT segments of 6 steps, 2 evaluation shards.
     * {@code extra} is spliced into the JSON (",\"key\":value" pairs that override).
     */
    static String cherryq(String extra) {
        return "{\"model\":\"demo\",\"eval_data\":\"heldout.txt\",\"calibration_data\":\"calibration.txt\","
                + "\"train_data\":\"train.txt\",\"method\":\"cherryq\",\"bits\":3,\"group_size\":32,"
                + "\"calibration_samples\":8,\"calibration_shards\":2,\"steps\":12,\"segment_steps\":6,"
                + "\"batch_size\":4,\"lr\":0.001,\"seq_len\":64,\"seed\":11,\"eval_windows_per_shard\":8,"
                + "\"eval_batch_size\":4,\"baselines\":[]" + extra + "}";
    }

    /** The smallest CherryQ job: for load tests and requests that should fail before any compute. */
    static String tiny(String extra) {
        return "{\"model\":\"demo\",\"eval_data\":\"heldout.txt\",\"calibration_data\":\"calibration.txt\","
                + "\"train_data\":\"train.txt\",\"method\":\"cherryq\",\"bits\":3,\"group_size\":32,"
                + "\"calibration_samples\":2,\"calibration_shards\":1,\"steps\":2,\"segment_steps\":2,"
                + "\"batch_size\":1,\"lr\":0.001,\"seq_len\":32,\"seed\":3,\"eval_windows_per_shard\":16,"
                + "\"eval_batch_size\":8,\"baselines\":[]" + extra + "}";
    }
}
