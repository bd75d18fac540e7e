package dev.cherryq.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class BitPackingTest {

    @Test
    void shouldRoundTripEveryBitWidthAndOddSize() {
        Random random = new Random(5);
        for (int bits = 2; bits <= 8; bits++) {
            for (int count : new int[] {0, 1, 3, 7, 31, 33, 97, 1001}) {
                int[] codes = random.ints(count, 0, 1 << bits).toArray();
                int[] packed = BitPacking.pack(codes, bits);
                assertEquals((count * bits + 31) / 32, packed.length);
                assertArrayEquals(codes, BitPacking.unpack(packed, bits, count), bits + " bits x " + count);
            }
        }
    }

    @Test
    void shouldPackLeastSignificantBitsFirst() {
        // 3-bit codes 1..11: the 11th code straddles words 1 and 2 (bits 30..32)
        int[] codes = {1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 7};
        int[] packed = BitPacking.pack(codes, 3);
        long expected = 0;
        for (int i = 0; i < codes.length; i++) {
            expected |= (long) codes[i] << (3 * i);
        }
        assertEquals((int) expected, packed[0]);
        assertEquals((int) (expected >>> 32), packed[1]);
    }
}
