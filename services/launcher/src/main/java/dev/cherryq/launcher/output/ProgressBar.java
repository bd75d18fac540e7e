package dev.cherryq.launcher.output;

import dev.cherryq.core.Progress;
import java.io.PrintStream;

/**
 * A terminal progress bar on stderr: {@code label [#######.....] 58% 7/12 windows 3.1s eta 2.2s}. It stays silent
 * for work that finishes within the first second. On a terminal it redraws in place (at most 10 times a second);
 * otherwise (logs, CI) it prints a line per 10%.
 */
public final class ProgressBar implements Progress, AutoCloseable {

    private static final int WIDTH = 30;
    private static final long QUIET_NANOS = 1_000_000_000L;

    private final String label;
    private final PrintStream out;
    private final boolean interactive;
    private final long started = System.nanoTime();
    private long lastDraw;
    private int lastDecile = -1;
    private boolean drawn;

    public ProgressBar(String label) {
        this(label, System.err, System.console() != null);
    }

    public ProgressBar(String label, PrintStream out, boolean interactive) {
        this.label = label;
        this.out = out;
        this.interactive = interactive;
    }

    @Override
    public synchronized void update(long done, long total, String detail) {
        long now = System.nanoTime();
        boolean finished = done >= total;
        if (now - started < QUIET_NANOS && !drawn) {
            return;
        }
        if (interactive) {
            if (!finished && now - lastDraw < 100_000_000L) {
                return;
            }
            out.print("\r" + render(done, total, detail, now) + "   ");
        } else {
            int decile = total == 0 ? 10 : (int) (10 * done / total);
            if (decile == lastDecile) {
                return;
            }
            lastDecile = decile;
            out.println(render(done, total, detail, now));
        }
        lastDraw = now;
        drawn = true;
        out.flush();
    }

    String render(long done, long total, String detail, long now) {
        double fraction = total <= 0 ? 1 : Math.min(1.0, (double) done / total);
        int filled = (int) Math.round(fraction * WIDTH);
        double elapsed = (now - started) / 1e9;
        String eta = fraction > 0 && fraction < 1 ? String.format(" eta %.1fs", elapsed / fraction - elapsed) : "";
        return String.format("%s [%s%s] %3d%% %d/%d %s %.1fs%s", label, "#".repeat(filled), ".".repeat(WIDTH - filled),
                Math.round(fraction * 100), done, total, detail, elapsed, eta);
    }

    @Override
    public synchronized void close() {
        if (drawn && interactive) {
            out.println();
        }
    }
}
