package dev.cherryq.fleet.storage;

import dev.cherryq.proto.v1.Stage;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The store's key layout: {@code jobs/<job>/<stage>/<name>}. Deterministic from (job, stage, shard), so redoing a
 * task overwrites the same object.
 */
public final class ObjectKeys {

    private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private ObjectKeys() {}

    public static boolean isValidJobId(String jobId) {
        return jobId != null && JOB_ID.matcher(jobId).matches() && !jobId.contains("..");
    }

    public static String jobPrefix(String jobId) {
        if (!isValidJobId(jobId)) {
            throw new IllegalArgumentException("invalid job id '" + jobId + "'");
        }
        return "jobs/" + jobId + "/";
    }

    public static String of(String jobId, Stage stage, String name) {
        return jobPrefix(jobId) + stageName(stage) + "/" + name;
    }

    public static String shard(String jobId, Stage stage, String kind, int shard) {
        return of(jobId, stage, String.format(Locale.ROOT, "%s-%05d", kind, shard));
    }

    public static String stageName(Stage stage) {
        return stage.name().substring("STAGE_".length()).toLowerCase(Locale.ROOT);
    }
}
