package dev.cherryq.cli.console;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Renders a job's status as one line of per-stage progress bars ("scorer [######----] 3/4"), redrawn in place on a
 * terminal, and printed on each state change and every 5 s otherwise (logs stay short).
 */
public final class JobProgressView {

    private final PrintStream out;
    private final boolean interactive;
    private final long started = System.nanoTime();
    private String lastLine = "";
    private String lastState = "";
    private long lastPrinted;

    public JobProgressView(PrintStream out) {
        this.out = out;
        this.interactive = System.console() != null;
    }

    public void show(JsonNode status) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "[%4ds] %-10s",
                (System.nanoTime() - started) / 1_000_000_000L, state(status)));
        for (JsonNode stage : status.path("stages")) {
            int done = stage.path("done").asInt();
            int total = Math.max(stage.path("total").asInt(), done);
            String name = stage.path("stage").asText().replace("STAGE_", "").toLowerCase(Locale.ROOT);
            int width = 10;
            int filled = total == 0 ? 0 : (int) Math.round(width * done / (double) total);
            line.append(String.format(Locale.ROOT, " | %s [%s%s] %d/%d", name, "#".repeat(filled),
                    "-".repeat(width - filled), done, total));
            String detail = stage.path("detail").asText();
            if (name.equals("trainer") && !detail.isEmpty()) {
                line.append(' ').append(detail);
            }
        }
        String text = line.toString();
        String state = state(status);
        long now = System.nanoTime();
        // redraw at most 10 times a second on a terminal; in a log, on a state change or every 5 s
        long interval = interactive ? 100_000_000L : 5_000_000_000L;
        if (text.equals(lastLine) || state.equals(lastState) && now - lastPrinted < interval
                && !state.equals("COMPLETED") && !state.equals("FAILED")) {
            return;
        }
        lastLine = text;
        lastState = state;
        lastPrinted = now;
        if (interactive) {
            out.print("\r\033[K" + text);
        } else {
            out.println(text);
        }
        out.flush();
    }

    public void finish() {
        if (interactive && !lastLine.isEmpty()) {
            out.println();
        }
    }

    public static String state(JsonNode status) {
        return status.path("state").asText("JOB_STATE_QUEUED").replace("JOB_STATE_", "");
    }
}
