package dev.cherryq.cli.commands;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.FleetMain;
import dev.cherryq.launcher.FleetStages;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cherryq serve <stage>}: one fleet service, configured by CHERRYQ_* environment variables or --set. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Runs one stage service of the fleet (planner, scorer, selector, trainer, evaluator, gateway; 'all'",
                "runs every stage in one process) against the Kafka cluster and object store its configuration names.",
                "Configuration comes from CHERRYQ_* environment variables; --set KEY=VALUE overrides one. Invalid",
                "configuration exits with status 2 and names the key. Every service serves /metrics, /health, /ready."}, footer = "%nSee docs/ARCHITECTURE.md for the topics, the metrics and a local fleet walk-through.")
public final class ServeCommand implements Callable<Integer> {

    @Parameters(index = "0", description = "planner, scorer, selector, trainer, evaluator, gateway or all")
    String stage;

    @Option(names = "--set", description = "KEY=VALUE, e.g. --set CHERRYQ_HTTP_PORT=8081 (repeatable)")
    List<String> settings = List.of();

    @Option(names = "--insecure", description = "let the gateway serve without CHERRYQ_GATEWAY_TOKEN on a "
            + "non-loopback address (CHERRYQ_GATEWAY_INSECURE=true), for a network you trust")
    boolean insecure;

    @Override
    public Integer call() {
        if (!FleetStages.NAMES.contains(stage)) {
            throw new InvalidInputException("unknown stage '" + stage + "' (stages: " + String.join(", ",
                    FleetStages.NAMES) + ")");
        }
        Map<String, String> environment = environment(settings);
        if (insecure) {
            environment.put(dev.cherryq.fleet.config.FleetConfig.GATEWAY_INSECURE.name(), "true");
        }
        return FleetMain.serve(stage, environment, FleetStages.verticles(stage));
    }

    static Map<String, String> environment(List<String> settings) {
        Map<String, String> environment = new HashMap<>(System.getenv());
        for (String setting : settings) {
            int equals = setting.indexOf('=');
            if (equals < 1) {
                throw new InvalidInputException("--set '" + setting + "' is not KEY=VALUE");
            }
            environment.put(setting.substring(0, equals), setting.substring(equals + 1));
        }
        return environment;
    }
}
