package dev.cherryq.core.quant;

/**
 * Packs b-bit codes (2..8) densely into 32-bit words, least significant bits first; a code may straddle two
 * words. Any count is allowed; the last word is zero-padded. This is the storage layout of packed weights.
 */
public final class BitPacking {

    private BitPacking() {}

    public static int packedLength(long count, int bits) {
        return Math.toIntExact((count * bits + 31) / 32);
    }

    public static int[] pack(int[] codes, int bits) {
        checkBits(bits);
        int[] words = new int[packedLength(codes.length, bits)];
        int mask = (1 << bits) - 1;
        long bit = 0;
        for (int i = 0; i < codes.length; i++, bit += bits) {
            int code = codes[i];
            if ((code & ~mask) != 0) {
                throw new IllegalArgumentException("code " + code + " at " + i + " does not fit in " + bits + " bits");
            }
            int word = (int) (bit >>> 5);
            int offset = (int) (bit & 31);
            words[word] |= code << offset;
            if (offset + bits > 32) { // straddles into the next word
                words[word + 1] |= code >>> (32 - offset);
            }
        }
        return words;
    }

    public static int[] unpack(int[] words, int bits, int count) {
        checkBits(bits);
        if (words.length < packedLength(count, bits)) {
            throw new IllegalArgumentException(words.length + " words cannot hold " + count + " codes of " + bits + " bits");
        }
        int[] codes = new int[count];
        int mask = (1 << bits) - 1;
        long bit = 0;
        for (int i = 0; i < count; i++, bit += bits) {
            int word = (int) (bit >>> 5);
            int offset = (int) (bit & 31);
            long window = words[word] & 0xFFFFFFFFL;
            if (offset + bits > 32) {
                window |= (words[word + 1] & 0xFFFFFFFFL) << 32;
            }
            codes[i] = (int) ((window >>> offset) & mask);
        }
        return codes;
    }

    private static void checkBits(int bits) {
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("bits must be 1..8, got " + bits);
        }
    }
}
