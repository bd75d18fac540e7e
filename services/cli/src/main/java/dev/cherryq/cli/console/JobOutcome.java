package dev.cherryq.cli.console;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InvalidInputException;
import java.io.PrintWriter;
import java.util.Locale;

/** How a followed job's end is shown: its exit code, its error, or the gateway's results table. */
public final class JobOutcome {

    private JobOutcome() {}

    /**
     * 0 for a COMPLETED status; for FAILED, the error printed and the exit code (2 for a bad request, else 1);
     * otherwise the follow ended early, which is said with the command that resumes it.
     */
    public static int of(JsonNode last, String jobId, PrintWriter out, String resume) {
        String state = JobProgressView.state(last);
        if (state.equals("COMPLETED")) {
            return 0;
        }
        if (state.equals("FAILED")) {
            JsonNode error = last.path("error");
            out.printf("job %s FAILED in %s: %s: %s%n", jobId, error.path("stage").asText().replace("STAGE_", "")
                    .toLowerCase(Locale.ROOT), error.path("code").asText(), error.path("message").asText());
            out.flush();
            return error.path("code").asText().startsWith("INVALID") ? ExitCode.USER_ERROR : ExitCode.INTERNAL_ERROR;
        }
        throw new InvalidInputException("following job " + jobId + " ended while it is " + state + "; run '"
                + resume + "' to go on");
    }

    /** The gateway's report of a completed job: its results table, then effective bits, cherries and model. */
    public static void printReport(JsonNode report, PrintWriter out) {
        out.println();
        out.print(report.path("table_markdown").asText());
        if (report.has("effective_bits")) {
            out.printf(Locale.ROOT, "%neffective bits per linear weight %.3f, cherries %,d; model %s%n",
                    report.path("effective_bits").asDouble(), report.path("cherries").asLong(),
                    report.path("model_uri").asText());
        }
        out.flush();
    }
}
