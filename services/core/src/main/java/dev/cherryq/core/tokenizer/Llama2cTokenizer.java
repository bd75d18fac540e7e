package dev.cherryq.core.tokenizer;

import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * llama2.c's tokenizer.bin (karpathy/llama2.c, run.c build_tokenizer/encode): int32 max_token_length, then per
 * token a float32 score, an int32 byte length and the bytes. Ids 0 unk, 1 BOS, 2 EOS, 3..258 byte tokens.
 * Encoding prepends the dummy-prefix space, maps each UTF-8 character to its token or to byte tokens (+3), then
 * merges the adjacent pair whose concatenation has the highest score, leftmost first.
 */
public final class Llama2cTokenizer implements Tokenizer {

    private static final int BYTE_TOKEN_OFFSET = 3;

    private final Path file;
    private final String[] pieces;
    private final float[] scores;
    private final Map<String, Integer> idOfPiece = new HashMap<>();

    private Llama2cTokenizer(Path file, String[] pieces, float[] scores) {
        this.file = file;
        this.pieces = pieces;
        this.scores = scores;
        for (int id = 0; id < pieces.length; id++) {
            idOfPiece.putIfAbsent(pieces[id], id);
        }
    }

    public static Llama2cTokenizer read(Path file) {
        byte[] bytes = InputFiles.readBytes(file);
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (buffer.remaining() < 4) {
            throw new InvalidInputException(file + ": not a llama2.c tokenizer (shorter than its header)");
        }
        int maxTokenLength = buffer.getInt();
        if (maxTokenLength <= 0 || maxTokenLength > 1 << 16) {
            throw new InvalidInputException(file + ": not a llama2.c tokenizer (max_token_length " + maxTokenLength + ")");
        }
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        while (buffer.hasRemaining()) {
            if (buffer.remaining() < 8) {
                throw new InvalidInputException(file + ": truncated at token " + pieces.size());
            }
            float score = buffer.getFloat();
            int length = buffer.getInt();
            if (length < 0 || length > buffer.remaining()) {
                throw new InvalidInputException(file + ": token " + pieces.size() + " has length " + length
                        + ", past the end of the file");
            }
            byte[] piece = new byte[length];
            buffer.get(piece);
            pieces.add(new String(piece, StandardCharsets.UTF_8));
            scores.add(score);
        }
        if (pieces.size() < BYTE_TOKEN_OFFSET + 256) {
            throw new InvalidInputException(file + ": only " + pieces.size() + " tokens; a llama2.c vocabulary has "
                    + "unk, BOS, EOS and 256 byte tokens at least");
        }
        float[] scoreArray = new float[scores.size()];
        for (int i = 0; i < scoreArray.length; i++) {
            scoreArray[i] = scores.get(i);
        }
        return new Llama2cTokenizer(file, pieces.toArray(new String[0]), scoreArray);
    }

    @Override
    public int[] encode(String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        List<String> symbols = new ArrayList<>();
        symbols.add(" "); // dummy prefix, as sentencepiece adds
        text.codePoints().forEach(codePoint -> {
            String character = new String(Character.toChars(codePoint));
            if (idOfPiece.containsKey(character)) {
                symbols.add(character);
            } else {
                // byte fallback: one token per UTF-8 byte
                for (byte b : character.getBytes(StandardCharsets.UTF_8)) {
                    symbols.add(byteTokenPiece(b & 0xFF));
                }
            }
        });
        List<String> merged = BpeMerger.merge(symbols, (left, right) -> {
            Integer id = idOfPiece.get(left + right);
            return id == null ? Double.NaN : -scores[id];
        });
        int[] ids = new int[merged.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = idOfPiece.get(merged.get(i));
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id < 0 || id >= pieces.length) {
                throw new InvalidInputException("token id " + id + " is outside the vocabulary of " + file);
            }
            if (id >= BYTE_TOKEN_OFFSET && id < BYTE_TOKEN_OFFSET + 256) {
                out.write(id - BYTE_TOKEN_OFFSET);
            } else if (id >= BYTE_TOKEN_OFFSET) {
                out.writeBytes(pieces[id].getBytes(StandardCharsets.UTF_8));
            }
        }
        String text = out.toString(StandardCharsets.UTF_8);
        return text.startsWith(" ") ? text.substring(1) : text;
    }

    /** The vocabulary pieces by id, as stored (llama2.c writes sentencepiece's U+2581 as a plain space). */
    public List<String> pieces() {
        return List.of(pieces);
    }

    /** The merge scores by id (higher merges first). */
    public float[] scores() {
        return scores.clone();
    }

    /** The vocabulary piece for a raw byte, e.g. {@code <0x0A>}. */
    private String byteTokenPiece(int value) {
        return pieces[BYTE_TOKEN_OFFSET + value];
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public OptionalInt bos() {
        return OptionalInt.of(1);
    }

    @Override
    public String describe() {
        return "llama2.c tokenizer " + file.getFileName() + " (" + pieces.length + " tokens)";
    }
}
