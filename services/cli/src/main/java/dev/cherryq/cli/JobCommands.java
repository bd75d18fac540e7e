package dev.cherryq.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InputFiles;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.launcher.GatewayClient;
import dev.cherryq.launcher.Json;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cherryq submit | status | watch}: the gateway's API from a shell. */
final class JobCommands {

    private JobCommands() {}

    /** Where the gateway is and how to authenticate. */
    static final class GatewayOptions {
        @Option(names = "--gateway", description = "gateway URL (default: $CHERRYQ_GATEWAY_URL or http://127.0.0.1:8080)")
        String url;

        @Option(names = "--token", description = "bearer token (default: $CHERRYQ_GATEWAY_TOKEN)")
        String token;

        GatewayClient client() {
            String base = url != null ? url : System.getenv().getOrDefault("CHERRYQ_GATEWAY_URL", "http://127.0.0.1:8080");
            return new GatewayClient(base, token != null ? token : System.getenv("CHERRYQ_GATEWAY_TOKEN"));
        }
    }

    @Command(name = "submit", mixinStandardHelpOptions = true,
            description = {"Submits a quantization request (JSON, fields as in docs/ARCHITECTURE.md) to the gateway and",
                    "prints the job id; --watch follows it to the end and prints the results table."})
    static final class Submit implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Body body;

        static final class Body {
            @Option(names = "--file", description = "request JSON file")
            Path file;

            @Option(names = "--json", description = "request JSON text")
            String json;
        }

        @Option(names = "--idempotency-key", description = "resubmitting with the same key returns the same job")
        String idempotencyKey;

        @Option(names = "--watch", description = "follow the job and print its results")
        boolean watch;

        @picocli.CommandLine.Mixin
        GatewayMixin gateway;

        @Override
        public Integer call() throws Exception {
            String json = body.json != null ? body.json : InputFiles.readText(body.file);
            GatewayClient client = gateway.options.client();
            JsonNode accepted = client.submit(json, idempotencyKey);
            PrintWriter out = spec.commandLine().getOut();
            String jobId = accepted.path("job_id").asText();
            out.println(jobId);
            out.flush();
            return watch ? Watch.follow(client, jobId, out) : 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Prints a job's status as JSON.")
    static final class Status implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", description = "job id")
        String jobId;

        @picocli.CommandLine.Mixin
        GatewayMixin gateway;

        @Override
        public Integer call() throws Exception {
            JsonNode status = gateway.options.client().status(jobId);
            spec.commandLine().getOut().println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(status));
            return 0;
        }
    }

    @Command(name = "watch", mixinStandardHelpOptions = true,
            description = "Follows a job (server-sent events) with per-stage progress and prints its results table.")
    static final class Watch implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", description = "job id")
        String jobId;

        @picocli.CommandLine.Mixin
        GatewayMixin gateway;

        @Override
        public Integer call() throws Exception {
            return follow(gateway.options.client(), jobId, spec.commandLine().getOut());
        }

        /** Shows progress until the job is final; prints the table (0) or the error (exit 1, or 2 for a bad request). */
        static int follow(GatewayClient client, String jobId, PrintWriter out) throws Exception {
            int status = await(client, jobId, out);
            if (status == 0) {
                JsonNode report = client.report(jobId);
                out.println();
                out.print(report.path("table_markdown").asText());
                if (report.has("effective_bits")) {
                    out.printf(Locale.ROOT, "%neffective bits per linear weight %.3f, cherries %,d; model %s%n",
                            report.path("effective_bits").asDouble(), report.path("cherries").asLong(),
                            report.path("model_uri").asText());
                }
                out.flush();
            }
            return status;
        }

        /** Shows progress until the job is final: 0 when it completed, else its error printed and the exit code. */
        static int await(GatewayClient client, String jobId, PrintWriter out) throws Exception {
            JobProgressView view = new JobProgressView(System.err);
            JsonNode last = client.watch(jobId, view::show);
            view.finish();
            if (last == null) {
                last = client.status(jobId);
            }
            return outcome(last, jobId, out, "cherryq watch " + jobId);
        }

        /**
         * 0 for a COMPLETED status; for FAILED, the error printed and the exit code (2 for a bad request, else 1);
         * otherwise the follow ended early, which is said with the command that resumes it.
         */
        static int outcome(JsonNode last, String jobId, PrintWriter out, String resume) {
            String state = JobProgressView.state(last);
            if (state.equals("COMPLETED")) {
                return 0;
            }
            if (state.equals("FAILED")) {
                JsonNode error = last.path("error");
                out.printf("job %s FAILED in %s: %s: %s%n", jobId, error.path("stage").asText().replace("STAGE_", "")
                        .toLowerCase(Locale.ROOT), error.path("code").asText(), error.path("message").asText());
                out.flush();
                return error.path("code").asText().startsWith("INVALID") ? CherryqCommand.EXIT_USER_ERROR
                        : CherryqCommand.EXIT_INTERNAL_ERROR;
            }
            throw new InvalidInputException("following job " + jobId + " ended while it is " + state + "; run '"
                    + resume + "' to go on");
        }
    }

    /** Picocli mixin wrapper so the options group is shared. */
    static final class GatewayMixin {
        @ArgGroup(exclusive = false)
        GatewayOptions options = new GatewayOptions();
    }
}
