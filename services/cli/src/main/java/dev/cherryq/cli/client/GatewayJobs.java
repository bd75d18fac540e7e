package dev.cherryq.cli.client;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.cli.console.JobOutcome;
import dev.cherryq.cli.console.JobProgressView;
import dev.cherryq.launcher.GatewayClient;
import java.io.PrintWriter;

/** A job followed through the gateway: progress from its server-sent events, then its outcome and results table. */
public final class GatewayJobs {

    private GatewayJobs() {}

    /** Shows progress until the job is final; prints the table (0) or the error (exit 1, or 2 for a bad request). */
    public static int follow(GatewayClient client, String jobId, PrintWriter out) throws Exception {
        int status = await(client, jobId, out);
        if (status == 0) {
            JobOutcome.printReport(client.report(jobId), out);
        }
        return status;
    }

    /** Shows progress until the job is final: 0 when it completed, else its error printed and the exit code. */
    public static int await(GatewayClient client, String jobId, PrintWriter out) throws Exception {
        JobProgressView view = new JobProgressView(System.err);
        JsonNode last = client.watch(jobId, view::show);
        view.finish();
        if (last == null) {
            last = client.status(jobId);
        }
        return JobOutcome.of(last, jobId, out, "cherryq watch " + jobId);
    }
}
