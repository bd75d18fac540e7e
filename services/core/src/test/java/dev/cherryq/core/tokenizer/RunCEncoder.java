package dev.cherryq.core.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A literal port of llama2.c run.c's encode(): its own file parsing, linear vocab lookup, and the rescan-per-merge
 * loop over byte strings. Shares no code with {@link Llama2cTokenizer}.
 */
final class RunCEncoder {

    private final List<byte[]> vocab = new ArrayList<>();
    private final List<Float> scores = new ArrayList<>();

    RunCEncoder(Path file) {
        try {
            ByteBuffer buffer = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            buffer.getInt();
            while (buffer.hasRemaining()) {
                scores.add(buffer.getFloat());
                byte[] piece = new byte[buffer.getInt()];
                buffer.get(piece);
                vocab.add(piece);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private int lookup(byte[] piece) {
        for (int i = 0; i < vocab.size(); i++) {
            if (java.util.Arrays.equals(vocab.get(i), piece)) {
                return i;
            }
        }
        return -1;
    }

    int[] encode(String text) {
        List<Integer> tokens = new ArrayList<>();
        tokens.add(lookup(" ".getBytes(StandardCharsets.UTF_8)));
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int i = 0;
        while (i < bytes.length) {
            // one UTF-8 character: a lead byte and its continuation bytes
            int end = i + 1;
            while (end < bytes.length && (bytes[end] & 0xC0) == 0x80 && end - i < 4) {
                end++;
            }
            byte[] character = java.util.Arrays.copyOfRange(bytes, i, end);
            int id = lookup(character);
            if (id != -1) {
                tokens.add(id);
            } else {
                for (byte b : character) {
                    tokens.add((b & 0xFF) + 3);
                }
            }
            i = end;
        }
        while (true) {
            float bestScore = -1e10f;
            int bestId = -1;
            int bestIndex = -1;
            for (int t = 0; t + 1 < tokens.size(); t++) {
                byte[] left = vocab.get(tokens.get(t));
                byte[] right = vocab.get(tokens.get(t + 1));
                byte[] merged = new byte[left.length + right.length];
                System.arraycopy(left, 0, merged, 0, left.length);
                System.arraycopy(right, 0, merged, left.length, right.length);
                int id = lookup(merged);
                if (id != -1 && scores.get(id) > bestScore) {
                    bestScore = scores.get(id);
                    bestId = id;
                    bestIndex = t;
                }
            }
            if (bestIndex == -1) {
                break;
            }
            tokens.set(bestIndex, bestId);
            tokens.remove(bestIndex + 1);
        }
        return tokens.stream().mapToInt(Integer::intValue).toArray();
    }
}
