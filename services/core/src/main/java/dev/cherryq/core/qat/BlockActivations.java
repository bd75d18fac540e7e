package dev.cherryq.core.qat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.NativeArrays;
import dev.cherryq.core.Progress;
import dev.cherryq.core.format.DType;
import dev.cherryq.core.format.SafetensorsFile;
import dev.cherryq.core.format.SafetensorsWriter;
import dev.cherryq.core.format.TensorData;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The capture step of block-wise training: the full-precision model's hidden states at every decoder block boundary
 * for a set of windows, {@code h_0} (the token embeddings) to {@code h_n} (the last block's output), one file per
 * depth ({@code h-<depth>.safetensors}, tensor {@code hidden}, shape (windows, length, hidden)). Block {@code b}
 * trains on {@code h_b -> h_(b+1)} (EfficientQAT's Block-AP, Chen et al., 2024, with every block fed the
 * full-precision inputs, so that blocks are independent tasks).
 *
 * <p>Capture is depth-streamed: one decoder block in memory at a time, and two depths of activations (the block's
 * input and output). Activations are stored in f16, or in bf16 for a depth whose values exceed f16's range; both
 * are read back as f32, all at once or a window range at a time ({@link Depth}).
 */
public final class BlockActivations {

    /**
     * The hidden states of one depth, (windows, length, hidden), over the files of its shards in order: held in one
     * array ({@link #read}), or streamed, each window range read from the files when it is asked for
     * ({@link #open}: memory for a micro-batch instead of every window).
     */
    public static final class Depth {
        private final List<Path> files;
        private final int[] firstWindows; // the first window of each file, and the total after the last
        private final int length;
        private final int hidden;
        private final float[] held; // null when streamed

        private Depth(List<Path> files, int[] firstWindows, int length, int hidden, float[] held) {
            this.files = files;
            this.firstWindows = firstWindows;
            this.length = length;
            this.hidden = hidden;
            this.held = held;
        }

        /** Hidden states already in memory, row-major (windows, length, hidden). */
        public static Depth held(float[] values, int windows, int length, int hidden) {
            if ((long) windows * length * hidden != values.length) {
                throw new IllegalArgumentException(values.length + " values are not " + windows + " x " + length
                        + " x " + hidden);
            }
            return new Depth(List.of(), new int[] {0, windows}, length, hidden, values);
        }

        public int windows() {
            return firstWindows[firstWindows.length - 1];
        }

        public int length() {
            return length;
        }

        public int hidden() {
            return hidden;
        }

        /** Whether every window is in memory. */
        public boolean isHeld() {
            return held != null;
        }

        /** Rows {@code [from, to)} of the windows as one array, (to - from, length, hidden). */
        public float[] windows(int from, int to) {
            if (from < 0 || to > windows() || from > to) {
                throw new IndexOutOfBoundsException("windows " + from + ".." + to + " of " + windows());
            }
            int size = length * hidden;
            float[] slice = new float[elements(to - from, length, hidden)];
            if (held != null) {
                System.arraycopy(held, Math.multiplyExact(from, size), slice, 0, slice.length);
                return slice;
            }
            for (int i = 0; i < files.size(); i++) {
                int first = Math.max(from, firstWindows[i]);
                int last = Math.min(to, firstWindows[i + 1]);
                if (first < last) {
                    try (SafetensorsFile file = SafetensorsFile.open(files.get(i))) {
                        float[] part = file.readFloats(TENSOR, (long) (first - firstWindows[i]) * size,
                                (last - first) * size);
                        System.arraycopy(part, 0, slice, (first - from) * size, part.length);
                    }
                }
            }
            return slice;
        }
    }

    /** Windows per forward pass while capturing. */
    private static final int CAPTURE_BATCH = 8;

    /** The tensor holding a depth in its file. */
    static final String TENSOR = "hidden";

    private BlockActivations() {}

    /** The file of one depth's activations in a capture folder. */
    public static Path file(Path folder, int depth) {
        return folder.resolve("h-" + depth + ".safetensors");
    }

    /**
     * Runs the full-precision model over the windows starting at {@code starts} in {@code tokens} and writes the
     * hidden states at depths 0 (embeddings) to n (last block's output) into {@code folder}.
     *
     * @return the bytes written
     */
    public static long capture(LlamaCheckpoint checkpoint, int[] tokens, int[] starts, int length, Path folder,
            Progress progress) {
        DjlRuntime.prepareComputeThread();
        int layers = checkpoint.config().numberOfLayers();
        int hidden = checkpoint.config().hiddenSize();
        for (int start : starts) {
            if (start < 0 || start + length > tokens.length) {
                throw new InvalidInputException("capture window at " + start + " of " + length + " tokens lies outside "
                        + "the " + tokens.length + " tokens of the text");
            }
        }
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        elements(starts.length, length, hidden); // refuses, before any compute, a depth too large for one array
        long bytes = 0;
        try (LlamaModel shell = LlamaModel.loadWithoutBlocks(checkpoint)) {
            float[] current = embeddings(shell, tokens, starts, length);
            bytes += write(folder, 0, current, starts.length, length, hidden);
            for (int layer = 0; layer < layers; layer++) {
                try (NDManager blockManager = DjlRuntime.newManager()) {
                    Map<String, NDArray> block = LlamaModel.loadBlock(checkpoint, layer, blockManager);
                    current = throughBlock(shell, block, layer, current, starts.length, length, hidden);
                }
                bytes += write(folder, layer + 1, current, starts.length, length, hidden);
                progress.update(layer + 1, layers, "block " + layer);
            }
        }
        return bytes;
    }

    /** One depth read back, the windows of every capture folder in order (shards of one window set). */
    public static Depth read(List<Path> folders, int depth) {
        return read(folders.stream().map(folder -> file(folder, depth)).toList());
    }

    /** One depth read back from its files, one per shard, the windows in file order, into one array. */
    public static Depth read(List<Path> files) {
        Depth streamed = open(files);
        return new Depth(streamed.files, streamed.firstWindows, streamed.length, streamed.hidden,
                streamed.windows(0, streamed.windows())); // each shard's part read straight into the one array
    }

    /**
     * One depth over its files, one per shard, the windows in file order, streamed: nothing is read until a window
     * range is asked for. The shapes are checked now.
     */
    public static Depth open(List<Path> files) {
        int[] firstWindows = new int[files.size() + 1];
        int length = -1;
        int hidden = -1;
        for (int i = 0; i < files.size(); i++) {
            try (SafetensorsFile file = SafetensorsFile.open(files.get(i))) {
                long[] shape = file.info(TENSOR).shape();
                if (shape.length != 3 || (length >= 0 && (shape[1] != length || shape[2] != hidden))) {
                    throw new InvalidInputException(files.get(i) + ": activations of shape "
                            + java.util.Arrays.toString(shape) + " do not match the other shards' (n, " + length + ", "
                            + hidden + ")");
                }
                length = (int) shape[1];
                hidden = (int) shape[2];
                firstWindows[i + 1] = Math.addExact(firstWindows[i], (int) shape[0]);
            }
        }
        return new Depth(List.copyOf(files), firstWindows, length, hidden, null);
    }

    /** (windows, length, hidden) token embeddings of every window. */
    private static float[] embeddings(LlamaModel shell, int[] tokens, int[] starts, int length) {
        int hidden = shell.config().hiddenSize();
        float[] out = new float[elements(starts.length, length, hidden)];
        for (int from = 0; from < starts.length; from += CAPTURE_BATCH) {
            int to = Math.min(starts.length, from + CAPTURE_BATCH);
            long[] ids = new long[(to - from) * length];
            for (int row = from; row < to; row++) {
                for (int i = 0; i < length; i++) {
                    ids[(row - from) * length + i] = tokens[starts[row] + i];
                }
            }
            try (NDManager step = shell.newStep()) {
                NDArray x = shell.embed(step, shell.tokenArray(step, ids, to - from, length)); // (b, L, hidden)
                System.arraycopy(x.toFloatArray(), 0, out, from * length * hidden, (to - from) * length * hidden);
            }
        }
        return out;
    }

    /** The block's output for every window, from its input (windows, length, hidden). */
    static float[] throughBlock(LlamaModel shell, Map<String, NDArray> block, int layer, float[] input, int windows,
            int length, int hidden) {
        float[] out = new float[input.length];
        int size = length * hidden;
        for (int from = 0; from < windows; from += CAPTURE_BATCH) {
            int to = Math.min(windows, from + CAPTURE_BATCH);
            float[] slice = new float[(to - from) * size];
            System.arraycopy(input, from * size, slice, 0, slice.length);
            try (NDManager step = shell.newStep()) {
                NDArray x = NativeArrays.of(step, slice, new Shape(to - from, length, hidden));
                System.arraycopy(shell.block(step, x, layer, block).toFloatArray(), 0, out, from * size, slice.length);
            }
        }
        return out;
    }

    /** Elements of one depth's array, (windows, length, hidden); a depth beyond one Java array is refused. */
    static int elements(long windows, long length, long hidden) {
        long elements = windows * length * hidden;
        if (elements > Integer.MAX_VALUE - 8) {
            throw new InvalidInputException(String.format(java.util.Locale.ROOT, "block-wise training holds a depth's "
                    + "activations in one array: %,d windows of %,d tokens x %,d hidden is %,d values, above %,d; train "
                    + "on fewer windows (steps x batch_size x grad_accum) or shorter ones", windows, length, hidden,
                    elements, Integer.MAX_VALUE - 8));
        }
        return (int) elements;
    }

    /** One depth as f16, or bf16 when a value is beyond f16's range; returns the bytes written. */
    private static long write(Path folder, int depth, float[] values, int windows, int length, int hidden) {
        float largest = 0;
        for (float value : values) {
            if (!Float.isFinite(value)) {
                throw new InvalidInputException("the full-precision model produced a non-finite activation at depth "
                        + depth + ": the model cannot be trained block-wise on these windows");
            }
            largest = Math.max(largest, Math.abs(value));
        }
        DType dtype = largest < 65504f ? DType.F16 : DType.BF16;
        TensorData data = TensorData.ofFloats(TENSOR, dtype, new long[] {windows, length, hidden}, values);
        SafetensorsWriter.write(file(folder, depth), Map.of("cherryq.kind", "block-activations",
                "cherryq.depth", Integer.toString(depth)), List.of(data));
        return data.byteLength();
    }
}
