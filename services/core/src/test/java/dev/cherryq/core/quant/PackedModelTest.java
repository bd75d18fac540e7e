package dev.cherryq.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cherryq.core.Progress;
import dev.cherryq.core.format.HalfPrecision;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.model.LlamaTensorNames;
import dev.cherryq.core.model.RandomLlama;
import dev.cherryq.core.selection.CherrySelector;
import dev.cherryq.core.selection.CherrySet;
import dev.cherryq.core.selection.SelectionCriterion;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PackedModelTest {

    @TempDir
    Path dir;

    @Test
    void shouldUnpackToTheDenseExportBitForBitWithCherriesKept() {
        LlamaConfig config = RandomLlama.tinyConfig(false);
        Map<String, float[]> weights = RandomLlama.weights(config, 12);
        Map<String, long[]> shapes = LlamaTensorNames.linearWeightShapes(config);
        Map<String, float[]> linearWeights = new LinkedHashMap<>();
        shapes.keySet().forEach(name -> linearWeights.put(name, weights.get(name)));
        CherrySet cherries = CherrySelector.select(SelectionCriterion.MAGNITUDE, 0.1, linearWeights, shapes, 1);
        for (QuantScheme scheme : QuantScheme.values()) {
            for (int bits : new int[] {2, 3, 4, 8}) {
                QuantSpec spec = new QuantSpec(bits, 7, scheme); // odd group size: remainder groups on every row
                Path folder = dir.resolve(scheme.cliName() + bits);
                PackedModel.Summary summary = PackedModel.write(folder, config, RandomLlama.tensors(config, weights), spec,
                        cherries, PackedModel.quantizationConfig("cherryq", spec, cherries), Map.of(), Progress.NONE);
                Map<String, float[]> unpacked = PackedModel.unpack(folder);
                try (SafetensorsFile dense = SafetensorsFile.open(folder.resolve("model.safetensors"))) {
                    for (String name : dense.tensorNames()) {
                        assertArrayEquals(dense.readFloats(name), unpacked.get(name), 0f, scheme + " " + bits + " " + name);
                    }
                }
                // cherries are exactly their f16 values
                String name = LlamaTensorNames.Projection.UP.tensorName(1);
                CherrySet.Layer layer = cherries.layers().get(name);
                int columns = layer.columnsInMatrix();
                for (int row = 0; row < layer.rows(); row++) {
                    int index = row * columns + layer.columns()[row * layer.perRow()];
                    assertEquals(HalfPrecision.roundToF16(weights.get(name)[index]), unpacked.get(name)[index], 0f);
                }
                assertEquals(expectedBits(config, spec, cherries), summary.storedBits(), scheme + " " + bits);
                assertEquals(cherries.totalCherries(), summary.cherries());
            }
        }
        assertEquals(new QuantSpec(3, 7, QuantScheme.ASYM), PackedModel.specOf(dir.resolve("asym3")));
    }

    /** Codes padded to whole 32-bit words, f16 scales, i32 zeros (asym), i32 index + f16 value per cherry. */
    private static long expectedBits(LlamaConfig config, QuantSpec spec, CherrySet cherries) {
        long bits = 0;
        for (String name : LlamaTensorNames.linearWeights(config)) {
            CherrySet.Layer layer = cherries.layers().get(name);
            long rows = layer.rows();
            long columns = layer.columnsInMatrix();
            long groups = rows * spec.groupsPerRow((int) columns);
            bits += BitPacking.packedLength(rows * columns, spec.bits()) * 32L + groups * 16
                    + (spec.scheme() == QuantScheme.ASYM ? groups * 32 : 0) + rows * layer.perRow() * 48L;
        }
        return bits;
    }
}
