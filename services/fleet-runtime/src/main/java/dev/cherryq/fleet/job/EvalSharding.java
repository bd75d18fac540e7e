package dev.cherryq.fleet.job;

import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.task.Outgoing;
import dev.cherryq.proto.v1.EvalTask;
import dev.cherryq.proto.v1.ModelRef;
import dev.cherryq.proto.v1.PreparedData;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.QuantizedModelSummary;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * How evaluation is cut into tasks: the eval tokens form consecutive windows of seq_len (a trailing shorter window is
 * dropped, as in {@code cherryq eval}); each task takes {@code windows_per_shard} of them. Every variant (the method
 * and the requested baselines) has the same shards, so the fan-in expects variants x shards results.
 */
public final class EvalSharding {

    private EvalSharding() {}

    public static int windows(PreparedData data, QuantizationRequest request) {
        return (int) (data.getEvalTokens().getShape(0) / request.getSeqLen());
    }

    public static int shards(PreparedData data, QuantizationRequest request) {
        return shards(data.getEvalTokens().getShape(0), request);
    }

    /** Evaluation shards per variant for an evaluation text of {@code evalTokens} tokens. */
    public static int shards(long evalTokens, QuantizationRequest request) {
        long windows = evalTokens / request.getSeqLen();
        long perShard = request.getEval().getWindowsPerShard();
        return (int) Math.min(Integer.MAX_VALUE, (windows + perShard - 1) / perShard);
    }

    /** The method's variant name and the baselines, without repeats, in table order (fp first). */
    public static List<String> variants(QuantizationRequest request) {
        Set<String> variants = new LinkedHashSet<>();
        if (request.getEval().getBaselinesList().contains("fp")) {
            variants.add("fp");
        }
        if (request.getEval().getBaselinesList().contains("rtn")) {
            variants.add("rtn");
        }
        variants.add(RequestSettings.recipe(request).method().wireName());
        return List.copyOf(variants);
    }

    public static int expectedResults(PreparedData data, QuantizationRequest request) {
        return expectedResults(data.getEvalTokens().getShape(0), request);
    }

    /** Evaluation tasks of all variants for an evaluation text of {@code evalTokens} tokens. */
    public static int expectedResults(long evalTokens, QuantizationRequest request) {
        return (int) Math.min(Integer.MAX_VALUE, (long) variants(request).size() * shards(evalTokens, request));
    }

    /** The evaluation tasks of one variant. */
    public static List<Outgoing> tasks(QuantizationRequest request, PreparedData data, String variant, ModelRef model,
            QuantizedModelSummary quantized) {
        int windows = windows(data, request);
        int perShard = request.getEval().getWindowsPerShard();
        int shards = shards(data, request);
        int variantIndex = variants(request).indexOf(variant);
        List<Outgoing> tasks = new ArrayList<>();
        for (int shard = 0; shard < shards; shard++) {
            EvalTask.Builder task = EvalTask.newBuilder().setJobId(request.getJobId()).setRequest(request).setData(data)
                    .setVariant(variant).setModel(model).setShard(shard).setShardCount(shards)
                    .setWindowFrom(shard * perShard).setWindowTo(Math.min(windows, (shard + 1) * perShard))
                    .setExpectedResults(expectedResults(data, request));
            if (quantized != null) {
                task.setQuantized(quantized);
            }
            tasks.add(Outgoing.spread(Topics.EVAL_TASKS, request.getJobId() + "/" + variant + "/" + shard, task.build(),
                    request.getJobId().hashCode() + variantIndex * shards + shard));
        }
        return tasks;
    }
}
