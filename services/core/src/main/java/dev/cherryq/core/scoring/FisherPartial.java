package dev.cherryq.core.scoring;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.SafetensorsWriter;
import dev.cherryq.core.format.TensorData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A partial empirical Fisher: per linear weight the sum over some calibration samples of the squared per-sample
 * gradient, which samples those were, and the fingerprint of the model and calibration set they came from.
 * Partials merge by adding sums; merging refuses different fingerprints and overlapping samples, so a shard
 * counted twice cannot inflate the result. Stored as safetensors (F32 sums, provenance in {@code __metadata__}).
 */
public record FisherPartial(String fingerprint, BitSet samples, Map<String, float[]> sums, Map<String, long[]> shapes) {

    public int sampleCount() {
        return samples.cardinality();
    }

    /** Impact = sum / samples: the empirical Fisher diagonal, per weight. */
    public Map<String, float[]> impacts() {
        int count = sampleCount();
        Map<String, float[]> impacts = new LinkedHashMap<>();
        sums.forEach((name, sum) -> {
            float[] impact = new float[sum.length];
            for (int i = 0; i < sum.length; i++) {
                impact[i] = sum[i] / count;
            }
            impacts.put(name, impact);
        });
        return impacts;
    }

    /**
     * The same partial with only the named tensors (in this partial's order): one layer group's share, which merges
     * with the same group's share of other shards exactly as the whole partials would, tensor by tensor.
     */
    public FisherPartial restrictTo(java.util.Collection<String> names) {
        Map<String, float[]> kept = new LinkedHashMap<>();
        Map<String, long[]> keptShapes = new LinkedHashMap<>();
        sums.forEach((name, sum) -> {
            if (names.contains(name)) {
                kept.put(name, sum);
                keptShapes.put(name, shapes.get(name));
            }
        });
        if (kept.size() != names.size()) {
            throw new InvalidInputException("a Fisher partial of " + sums.keySet() + " lacks some of " + names);
        }
        return new FisherPartial(fingerprint, samples, kept, keptShapes);
    }

    public FisherPartial merge(FisherPartial other) {
        if (!fingerprint.equals(other.fingerprint)) {
            throw new InvalidInputException("cannot merge Fisher partials of different runs: " + fingerprint + " vs "
                    + other.fingerprint);
        }
        if (samples.intersects(other.samples)) {
            BitSet overlap = (BitSet) samples.clone();
            overlap.and(other.samples);
            throw new InvalidInputException("cannot merge Fisher partials: samples " + overlap + " are in both");
        }
        if (!sums.keySet().equals(other.sums.keySet())) {
            throw new InvalidInputException("cannot merge Fisher partials with different tensors");
        }
        Map<String, float[]> merged = new LinkedHashMap<>();
        sums.forEach((name, sum) -> {
            float[] theirs = other.sums.get(name);
            float[] total = new float[sum.length];
            for (int i = 0; i < sum.length; i++) {
                total[i] = sum[i] + theirs[i];
            }
            merged.put(name, total);
        });
        BitSet union = (BitSet) samples.clone();
        union.or(other.samples);
        return new FisherPartial(fingerprint, union, merged, shapes);
    }

    public void write(Path file) {
        List<TensorData> tensors = new ArrayList<>();
        sums.forEach((name, sum) -> tensors.add(TensorData.ofFloats(name, DType.F32, shapes.get(name), sum)));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("cherryq.kind", "fisher-partial");
        metadata.put("cherryq.fingerprint", fingerprint);
        metadata.put("cherryq.samples", samples.toString());
        SafetensorsWriter.write(file, metadata, tensors);
    }

    public static FisherPartial read(Path file) {
        try (SafetensorsFile safetensors = SafetensorsFile.open(file)) {
            Map<String, String> metadata = safetensors.requireKind("fisher-partial");
            Map<String, float[]> sums = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            for (String name : safetensors.tensorNames()) {
                sums.put(name, safetensors.readFloats(name));
                shapes.put(name, safetensors.info(name).shape());
            }
            return new FisherPartial(metadata.get("cherryq.fingerprint"), parseBitSet(file, metadata.get("cherryq.samples")),
                    sums, shapes);
        }
    }

    private static BitSet parseBitSet(Path file, String text) {
        BitSet bits = new BitSet();
        if (text == null || !text.startsWith("{") || !text.endsWith("}")) {
            throw new InvalidInputException(file + ": metadata cherryq.samples is missing or malformed");
        }
        String body = text.substring(1, text.length() - 1).trim();
        if (!body.isEmpty()) {
            for (String part : body.split(",")) {
                bits.set(Integer.parseInt(part.trim()));
            }
        }
        return bits;
    }
}
