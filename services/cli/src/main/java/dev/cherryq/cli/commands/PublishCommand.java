package dev.cherryq.cli.commands;

import dev.cherryq.cli.client.JobFollow;
import dev.cherryq.fleet.config.JobLimits;
import dev.cherryq.fleet.job.JobIds;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.gateway.JobRequestJson;
import dev.cherryq.launcher.KafkaJobClient;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cherryq publish}: a quantization request event produced straight to the requests topic, with no gateway in
 * between, for pipelines that speak Kafka. The job id is derived as the gateway derives it ({@link JobIds}), so the
 * same request published twice under one key is one job. The request is checked here with the gateway's rules (and
 * the default work limits) before anything is sent; the planner checks it again with the fleet's. {@code --follow}
 * reads the job's events from Kafka alone: progress, then the results table from the COMPLETED event.
 */
@Command(name = "publish", mixinStandardHelpOptions = true,
        description = {"Publishes a quantization request (JSON, as for submit) straight to Kafka and prints the job id;",
                "--follow reads the job's events from Kafka and prints progress, then the results table.",
                "Kafka security settings pass through as CHERRYQ_KAFKA_PROPERTY_* (docs/EVENTS.md)."})
public final class PublishCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    JobCommands.Body body;

    @Option(names = "--bootstrap", description = "Kafka bootstrap servers (default: $CHERRYQ_KAFKA_BOOTSTRAP_SERVERS)")
    String bootstrap;

    @Option(names = "--idempotency-key", description = "publishing the same request with the same key is one job")
    String idempotencyKey;

    @Option(names = "--follow", description = "follow the job's events until it ends and print its results")
    boolean follow;

    @Option(names = "--follow-minutes", defaultValue = "120",
            description = "longest wait for the job to end with --follow (default: ${DEFAULT-VALUE})")
    int followMinutes;

    @Override
    public Integer call() throws Exception {
        QuantizationRequest parsed = JobRequestJson.parse(body.read(), "pending");
        RequestSettings.validate(parsed, JobLimits.DEFAULTS);
        QuantizationRequest request = JobIds.assign(parsed, idempotencyKey);
        KafkaJobClient client = new KafkaJobClient(bootstrap);
        client.publish(request);
        PrintWriter out = spec.commandLine().getOut();
        out.println(request.getJobId());
        out.flush();
        return follow ? JobFollow.events(client, request, Duration.ofMinutes(followMinutes), out) : 0;
    }
}
