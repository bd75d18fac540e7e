package dev.cherryq.core.quant;

import dev.cherryq.core.InvalidInputException;

/**
 * A weight quantization format: bits per weight (2..8), group size along each row (-1 for the whole row; a
 * shorter last group when the row is not a multiple), and the level scheme.
 */
public record QuantSpec(int bits, int groupSize, QuantScheme scheme) {

    public static final int WHOLE_ROW = -1;

    public QuantSpec {
        if (bits < 2 || bits > 8) {
            throw new InvalidInputException("bits: " + bits + " is out of range 2..8");
        }
        if (groupSize == 0 || groupSize < WHOLE_ROW) {
            throw new InvalidInputException("group_size: " + groupSize
                    + " is invalid: use a positive size, or -1 for one group per row");
        }
        if (scheme == null) {
            throw new InvalidInputException("scheme: required (sym-full, asym or sym)");
        }
    }

    public int levels() {
        return 1 << bits;
    }

    /** Effective group length on a row of the given width. */
    public int groupLength(int columns) {
        return groupSize == WHOLE_ROW || groupSize > columns ? columns : groupSize;
    }

    public int groupsPerRow(int columns) {
        int length = groupLength(columns);
        return (columns + length - 1) / length;
    }
}
