package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.Fingerprints;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.SafetensorsWriter;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.LlamaModel;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.train.AdamW;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A QAT checkpoint: parameters, AdamW moments, the losses so far and the validation state ({@link BestWeights}: the
 * scores, the best step, and its weights as {@code best.*} tensors when they are not the current ones), in one
 * safetensors file written atomically, with the step and a fingerprint in its metadata. The fingerprint names the model (the weights training starts
 * from), quantization format, cherry set, training data, trajectory settings and, when it is not cross-entropy, the
 * loss; a checkpoint whose fingerprint differs refuses to resume and says which part differs.
 */
public final class QatCheckpoint {

    public static final String FILE = "qat-checkpoint.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] PARTS = {"model", "quantization", "cherries", "data", "settings", "loss"};
    /** A part a fingerprint may leave out, and what its absence means. */
    private static final Map<String, String> ABSENT = Map.of("loss", "cross-entropy");

    private QatCheckpoint() {}

    public static boolean exists(Path dir) {
        return Files.isRegularFile(dir.resolve(FILE));
    }

    /**
     * "model=...;quantization=...;cherries=...;data=...;settings=..." from the run's inputs, and ";loss=distillation"
     * when it distills (cross-entropy, the part's absence, keeps older checkpoints valid).
     *
     * @param startWeights what the weights training starts from are (null: a hash of the model's weights now); a
     *     start derived from the source model (GPTQ) names the source and the derivation, so that a resumed run,
     *     which loads the source again, recognises its checkpoint
     * @param distilled the loss is distillation from a teacher rather than cross-entropy
     */
    static String fingerprint(LlamaModel model, String startWeights, QuantSpec spec, CherrySet cherries, int[] tokens,
            QatSettings settings, boolean distilled) {
        return fingerprint(model.config() + " weights " + (startWeights != null ? startWeights
                : weightsFingerprint(model.parameters())), spec, cherries, Fingerprints.of(tokens), settings, distilled);
    }

    /**
     * The same from its parts' descriptions: {@code model} names the start (a whole model's, or one block's) and
     * {@code data} what it trains on (tokens, or a block's captured activations).
     */
    static String fingerprint(String model, QuantSpec spec, CherrySet cherries, String data, QatSettings settings,
            boolean distilled) {
        return "model=" + model
                + ";quantization=" + spec
                + ";cherries=" + (cherries.isEmpty() ? "none" : cherries.criterion().cliName() + " " + cherries.fraction()
                        + " " + cherries.fingerprint())
                + ";data=" + data
                + ";settings=" + settings.trajectoryKey()
                + (distilled ? ";loss=distillation" : "");
    }

    static void save(Path dir, String fingerprint, int step, Map<String, NDArray> parameters, AdamW optimizer,
            List<Float> losses, BestWeights best) {
        // each array is copied out of the engine when the writer reaches it: one tensor's copy in the heap at a time
        List<TensorData> tensors = new ArrayList<>();
        parameters.forEach((name, value) -> tensors.add(copiedWhenWritten("param." + name, value)));
        optimizer.firstMoments().forEach((name, value) -> tensors.add(copiedWhenWritten("adam.m." + name, value)));
        optimizer.secondMoments().forEach((name, value) -> tensors.add(copiedWhenWritten("adam.v." + name, value)));
        if (best.holdsOtherThan(step)) { // the best weights differ from the current ones: keep them too
            best.weights().forEach((name, values) -> tensors.add(TensorData.ofFloats("best." + name, DType.F32,
                    parameters.get(name).getShape().getShape(), values)));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("cherryq.kind", "qat-checkpoint");
        metadata.put("cherryq.step", Integer.toString(step));
        metadata.put("cherryq.optimizer_steps", Integer.toString(optimizer.steps()));
        metadata.put("cherryq.fingerprint", fingerprint);
        try {
            metadata.put("cherryq.losses", JSON.writeValueAsString(losses));
            if (!best.points().isEmpty()) {
                metadata.put("cherryq.validation", JSON.writeValueAsString(best.points()));
                metadata.put("cherryq.best_step", Integer.toString(best.step()));
                metadata.put("cherryq.best_nll", Double.toString(best.meanNll()));
            }
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        SafetensorsWriter.write(dir.resolve(FILE), metadata, tensors);
    }

    /**
     * An f32 tensor whose values are read from the array only when the writer reaches it: a checkpoint of a whole
     * model (parameters and two moments) used to hold 12 bytes per parameter in the heap while it was written.
     */
    static TensorData copiedWhenWritten(String name, NDArray value) {
        long[] shape = value.getShape().getShape();
        return new TensorData(name, DType.F32, shape,
                () -> TensorData.ofFloats(name, DType.F32, shape, value.toFloatArray()).bytes().get());
    }

    /**
     * Loads the checkpoint into the parameters (in place), optimizer, losses and best weights; returns the step to
     * continue from.
     */
    static int restore(Path dir, String fingerprint, Map<String, NDArray> parameters, AdamW optimizer,
            List<Float> losses, BestWeights best) {
        Path file = dir.resolve(FILE);
        try (SafetensorsFile checkpoint = SafetensorsFile.open(file)) {
            Map<String, String> metadata = checkpoint.requireKind("qat-checkpoint");
            String saved = metadata.getOrDefault("cherryq.fingerprint", "");
            if (!saved.equals(fingerprint)) {
                throw new InvalidInputException(file + ": refusing to resume: the checkpoint was made with a different "
                        + differingParts(saved, fingerprint) + " (remove " + dir + " to start over)");
            }
            try (NDManager scope = DjlRuntime.newManager()) {
                for (Map.Entry<String, NDArray> entry : parameters.entrySet()) {
                    NDArray parameter = entry.getValue();
                    NDArray stored = NativeArrays.of(scope, checkpoint.readFloats("param." + entry.getKey()), parameter.getShape());
                    // copy in place through a tensor op: keeps the parameter's own storage and autograd identity
                    parameter.muli(0).addi(stored);
                }
            }
            Map<String, float[]> first = new LinkedHashMap<>();
            Map<String, float[]> second = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            for (String name : checkpoint.tensorNames()) {
                if (name.startsWith("adam.m.")) {
                    String parameter = name.substring("adam.m.".length());
                    first.put(parameter, checkpoint.readFloats(name));
                    second.put(parameter, checkpoint.readFloats("adam.v." + parameter));
                    shapes.put(parameter, checkpoint.info(name).shape());
                }
            }
            optimizer.restore(Integer.parseInt(metadata.get("cherryq.optimizer_steps")), first, second, shapes);
            for (var loss : JSON.readTree(metadata.get("cherryq.losses"))) {
                losses.add((float) loss.asDouble());
            }
            int step = Integer.parseInt(metadata.get("cherryq.step"));
            if (metadata.containsKey("cherryq.validation")) {
                List<QatTrainer.ValidationPoint> points = new ArrayList<>();
                for (var point : JSON.readTree(metadata.get("cherryq.validation"))) {
                    points.add(new QatTrainer.ValidationPoint(point.get("step").asInt(),
                            point.get("meanNll").asDouble()));
                }
                int bestStep = Integer.parseInt(metadata.get("cherryq.best_step"));
                Map<String, float[]> weights = new LinkedHashMap<>();
                for (String name : parameters.keySet()) { // the best are stored only when not the current
                    weights.put(name, bestStep == step ? parameters.get(name).toFloatArray()
                            : checkpoint.readFloats("best." + name));
                }
                best.restore(points, bestStep, Double.parseDouble(metadata.get("cherryq.best_nll")), weights);
            }
            return step;
        } catch (IOException e) {
            throw new InvalidInputException(file + ": unreadable checkpoint metadata: " + e.getMessage());
        }
    }

    private static String differingParts(String saved, String current) {
        Map<String, String> a = parts(saved);
        Map<String, String> b = parts(current);
        List<String> differing = new ArrayList<>();
        for (String part : PARTS) {
            String absent = ABSENT.getOrDefault(part, "?");
            if (!a.getOrDefault(part, absent).equals(b.getOrDefault(part, absent))) {
                differing.add(part + " (checkpoint: " + a.getOrDefault(part, absent) + "; now: "
                        + b.getOrDefault(part, absent) + ")");
            }
        }
        return String.join(", ", differing);
    }

    private static Map<String, String> parts(String fingerprint) {
        Map<String, String> parts = new LinkedHashMap<>();
        for (String part : fingerprint.split(";")) {
            int equals = part.indexOf('=');
            if (equals > 0) {
                parts.put(part.substring(0, equals), part.substring(equals + 1));
            }
        }
        return parts;
    }

    /** A hash of every parameter as it is now (taken before training starts). */
    public static String weightsFingerprint(Map<String, NDArray> parameters) {
        Fingerprints fingerprint = Fingerprints.start();
        parameters.values().forEach(value -> fingerprint.add(value.toFloatArray()));
        return fingerprint.finish();
    }
}
