package dev.cherryq.core.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class HeldOutCheckTest {

    /** The definition, written out: windows with any span that occurs at any position of a learned text. */
    private static int naiveSharing(int[] evaluation, int windowLength, int span, int[]... learned) {
        int sharing = 0;
        for (int window = 0; window < evaluation.length / windowLength; window++) {
            boolean found = false;
            for (int p = window * windowLength; !found && p + span <= (window + 1) * windowLength; p++) {
                int[] needle = Arrays.copyOfRange(evaluation, p, p + span);
                for (int[] text : learned) {
                    for (int q = 0; !found && q + span <= text.length; q++) {
                        found = Arrays.equals(needle, Arrays.copyOfRange(text, q, q + span));
                    }
                }
            }
            sharing += found ? 1 : 0;
        }
        return sharing;
    }

    @Test
    void shouldCountTheWindowsThatShareASpanAsTheDefinitionDoes() {
        Random random = new Random(3);
        for (int trial = 0; trial < 40; trial++) {
            int vocabulary = 2 + random.nextInt(6); // small vocabularies: short spans recur by chance
            int[] evaluation = random.ints(200, 0, vocabulary).toArray();
            int[] calibration = random.ints(150, 0, vocabulary).toArray();
            int[] training = random.ints(300, 0, vocabulary).toArray();
            // plant a copy of some evaluation text in the training text
            int from = random.nextInt(180);
            System.arraycopy(evaluation, from, training, random.nextInt(280), 20);
            int windowLength = 10 + random.nextInt(20);
            int span = 1 + random.nextInt(Math.min(12, windowLength));
            HeldOutCheck.Result result = HeldOutCheck.check(evaluation, windowLength, span, calibration, training);
            assertEquals(naiveSharing(evaluation, windowLength, span, calibration, training),
                    result.windowsSharingText(), "trial " + trial + ", window " + windowLength + ", span " + span);
            assertEquals(200 / windowLength, result.windows());
        }
    }

    @Test
    void shouldCallDisjointTextHeldOutAndACopiedWindowNot() {
        Random random = new Random(4);
        int[] training = random.ints(5000, 0, 1000).toArray();
        int[] evaluation = random.ints(640, 0, 1000).toArray();
        HeldOutCheck.Result clean = HeldOutCheck.check(evaluation, 64, 32, training);
        assertTrue(clean.heldOut(), clean.describe());
        System.arraycopy(training, 1234, evaluation, 80, 40); // 40 copied ids inside window 1 (64..127)
        HeldOutCheck.Result copied = HeldOutCheck.check(evaluation, 64, 32, training);
        assertFalse(copied.heldOut());
        assertEquals(1, copied.windowsSharingText(), "only window 1 holds the copy");
        assertTrue(copied.describe().startsWith("NOT held out: 1 of its 10 windows"), copied.describe());
        // a copy split 28 + 12 over two windows leaves neither with 32 shared ids in a row
        int[] straddling = random.ints(640, 0, 1000).toArray();
        System.arraycopy(training, 1234, straddling, 100, 40);
        assertTrue(HeldOutCheck.check(straddling, 64, 32, training).heldOut());
        assertEquals(2, HeldOutCheck.check(straddling, 64, 12, training).windowsSharingText());
    }
}
