package dev.cherryq.cli.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.util.JsonFormat;
import dev.cherryq.cli.console.JobOutcome;
import dev.cherryq.cli.console.JobProgressView;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.job.ResultsTable;
import dev.cherryq.fleet.job.WorkerTable;
import dev.cherryq.launcher.GatewayClient;
import dev.cherryq.launcher.Json;
import dev.cherryq.launcher.KafkaJobClient;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.time.Duration;

/**
 * A job followed to its end with a progress line on stderr, over the gateway's server-sent events or straight from
 * the job-events topic; then its results table, or its error and exit code.
 */
public final class JobFollow {

    private JobFollow() {}

    /** Shows progress until the job is final; prints the table (0) or the error (exit 1, or 2 for a bad request). */
    public static int gateway(GatewayClient client, String jobId, PrintWriter out) throws Exception {
        int status = awaitGateway(client, jobId, out);
        if (status == 0) {
            JobOutcome.printReport(client.report(jobId), out);
        }
        return status;
    }

    /** Shows progress until the job is final: 0 when it completed, else its error printed and the exit code. */
    public static int awaitGateway(GatewayClient client, String jobId, PrintWriter out) throws Exception {
        JobProgressView view = new JobProgressView(System.err);
        JsonNode last = client.watch(jobId, view::show);
        view.finish();
        if (last == null) {
            last = client.status(jobId);
        }
        return JobOutcome.of(last, jobId, out, "cherryq watch " + jobId);
    }

    /** The same from the job's events on Kafka; the results table is made from the request and the final event. */
    public static int events(KafkaJobClient client, QuantizationRequest request, Duration timeout, PrintWriter out)
            throws Exception {
        String jobId = request.getJobId();
        JobProgressView view = new JobProgressView(System.err);
        JobStatus status = client.follow(jobId, timeout, update -> view.show(json(update)));
        view.finish();
        if (status == null) {
            throw new InvalidInputException("no event of job " + jobId + " within " + timeout.toMinutes() + " min");
        }
        int code = JobOutcome.of(json(status), jobId, out, "cherryq publish ... --follow (the same request and key)");
        if (code == 0) {
            out.println();
            out.print(ResultsTable.markdown(ResultsTable.rows(request, status.getResult())));
            String workers = WorkerTable.markdown(WorkerTable.json(status.getWorkersList()));
            if (!workers.isEmpty()) {
                out.print("\nTasks per stage and worker, with each process's peak resident memory:\n\n" + workers);
            }
            out.flush();
        }
        return code;
    }

    private static JsonNode json(JobStatus status) {
        try {
            return Json.MAPPER.readTree(JsonFormat.printer().preservingProtoFieldNames().print(status));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
