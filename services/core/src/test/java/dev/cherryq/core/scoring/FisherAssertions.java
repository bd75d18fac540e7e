package dev.cherryq.core.scoring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

/** Fisher sums compared up to the order of float additions: what depth-streamed scoring must match. */
public final class FisherAssertions {

    private FisherAssertions() {}

    /** Every tensor of {@code expected} has a gradient, and {@code actual} is within 1e-4 of its largest entry. */
    public static void assertSameSums(Map<String, float[]> expected, Map<String, float[]> actual) {
        expected.forEach((name, want) -> {
            float[] got = actual.get(name);
            assertEquals(want.length, got.length, name);
            double largest = 0;
            double worst = 0;
            for (int i = 0; i < want.length; i++) {
                largest = Math.max(largest, Math.abs(want[i]));
                worst = Math.max(worst, Math.abs(want[i] - got[i]));
            }
            assertTrue(largest > 0, name + " has no gradient");
            assertTrue(worst <= 1e-4 * largest, name + ": largest difference " + worst + " against largest " + largest);
        });
    }
}
