package dev.cherryq.bench.report;

import java.io.IOException;

/** Figures of the fidelity report: a figure that cannot be drawn is a warning, never a failed report. */
final class Figures {

    private Figures() {}

    interface Drawing {
        void draw() throws IOException;
    }

    static void tryDraw(Drawing drawing) {
        try {
            drawing.draw();
        } catch (IOException | RuntimeException | Error e) {
            System.err.println("cherryq: warning: a figure could not be drawn (" + e + "); the numbers are in report.json");
        }
    }
}
