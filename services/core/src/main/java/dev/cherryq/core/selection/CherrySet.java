package dev.cherryq.core.selection;

import dev.cherryq.core.Fingerprints;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.SafetensorsWriter;
import dev.cherryq.core.format.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The selected cherries: for each linear weight, {@code perRow} column indices per output row, ascending within a
 * row, stored (rows, perRow) row-major. Saved as safetensors (I32) with the criterion and fraction in metadata.
 */
public record CherrySet(SelectionCriterion criterion, double fraction, Map<String, Layer> layers) {

    /** One matrix's cherries: {@code columns[row * perRow + j]}. */
    public record Layer(int rows, int columnsInMatrix, int perRow, int[] columns) {

        /** A row-major (rows, columnsInMatrix) mask, true at cherries. */
        public boolean[] mask() {
            boolean[] mask = new boolean[rows * columnsInMatrix];
            for (int row = 0; row < rows; row++) {
                for (int j = 0; j < perRow; j++) {
                    mask[row * columnsInMatrix + columns[row * perRow + j]] = true;
                }
            }
            return mask;
        }
    }

    public static CherrySet empty() {
        return new CherrySet(SelectionCriterion.IMPACT, 0, Map.of());
    }

    public boolean isEmpty() {
        return layers.values().stream().allMatch(l -> l.perRow() == 0);
    }

    public long totalCherries() {
        return layers.values().stream().mapToLong(l -> (long) l.rows() * l.perRow()).sum();
    }

    /** A short content hash: checkpoints remember which cherries they were trained with. */
    public String fingerprint() {
        Fingerprints fingerprint = Fingerprints.start().add(criterion + ":" + fraction);
        layers.forEach((name, layer) -> fingerprint.add(name).add(layer.columns()));
        return fingerprint.finish();
    }

    public void write(Path file) {
        List<TensorData> tensors = new ArrayList<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("cherryq.kind", "cherry-set");
        metadata.put("cherryq.criterion", criterion.cliName());
        metadata.put("cherryq.fraction", Double.toString(fraction));
        layers.forEach((name, layer) -> {
            tensors.add(TensorData.ofInts(name, new long[] {layer.rows(), layer.perRow()}, layer.columns()));
            metadata.put("cherryq.columns." + name, Integer.toString(layer.columnsInMatrix()));
        });
        SafetensorsWriter.write(file, metadata, tensors);
    }

    public static CherrySet read(Path file) {
        try (SafetensorsFile safetensors = SafetensorsFile.open(file)) {
            Map<String, String> metadata = safetensors.requireKind("cherry-set");
            Map<String, Layer> layers = new LinkedHashMap<>();
            for (String name : safetensors.tensorNames()) {
                long[] shape = safetensors.info(name).shape();
                ByteBuffer bytes = safetensors.readBytes(name).order(ByteOrder.LITTLE_ENDIAN);
                int[] columns = new int[(int) (shape[0] * shape[1])];
                bytes.asIntBuffer().get(columns);
                layers.put(name, new Layer((int) shape[0], Integer.parseInt(metadata.get("cherryq.columns." + name)),
                        (int) shape[1], columns));
            }
            return new CherrySet(SelectionCriterion.parse(metadata.get("cherryq.criterion")),
                    Double.parseDouble(metadata.get("cherryq.fraction")), layers);
        }
    }
}
