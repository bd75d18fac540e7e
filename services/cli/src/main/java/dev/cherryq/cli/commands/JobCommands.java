package dev.cherryq.cli.commands;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.cli.client.JobFollow;
import dev.cherryq.cli.client.GatewayMixin;
import dev.cherryq.core.InputFiles;
import dev.cherryq.launcher.GatewayClient;
import dev.cherryq.launcher.Json;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code cherryq submit | status | watch}: the gateway's API from a shell. */
public final class JobCommands {

    private JobCommands() {}

    /** A request's JSON, from a file or given inline (submit, publish). */
    static final class Body {
        @Option(names = "--file", description = "request JSON file")
        Path file;

        @Option(names = "--json", description = "request JSON text")
        String json;

        String read() {
            return json != null ? json : InputFiles.readText(file);
        }
    }

    @Command(name = "submit", mixinStandardHelpOptions = true,
            description = {"Submits a quantization request (JSON, fields as in docs/ARCHITECTURE.md) to the gateway and",
                    "prints the job id; --watch follows it to the end and prints the results table."})
    public static final class Submit implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Body body;

        @Option(names = "--idempotency-key", description = "resubmitting with the same key returns the same job")
        String idempotencyKey;

        @Option(names = "--watch", description = "follow the job and print its results")
        boolean watch;

        @Mixin
        GatewayMixin gateway;

        @Override
        public Integer call() throws Exception {
            GatewayClient client = gateway.client();
            JsonNode accepted = client.submit(body.read(), idempotencyKey);
            PrintWriter out = spec.commandLine().getOut();
            String jobId = accepted.path("job_id").asText();
            out.println(jobId);
            out.flush();
            return watch ? JobFollow.gateway(client, jobId, out) : 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Prints a job's status as JSON.")
    public static final class Status implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", description = "job id")
        String jobId;

        @Mixin
        GatewayMixin gateway;

        @Override
        public Integer call() throws Exception {
            JsonNode status = gateway.client().status(jobId);
            spec.commandLine().getOut().println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(status));
            return 0;
        }
    }

    @Command(name = "watch", mixinStandardHelpOptions = true,
            description = "Follows a job (server-sent events) with per-stage progress and prints its results table.")
    public static final class Watch implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", description = "job id")
        String jobId;

        @Mixin
        GatewayMixin gateway;

        @Override
        public Integer call() throws Exception {
            return JobFollow.gateway(gateway.client(), jobId, spec.commandLine().getOut());
        }
    }
}
