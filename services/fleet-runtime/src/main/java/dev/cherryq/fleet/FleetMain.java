package dev.cherryq.fleet;

import dev.cherryq.fleet.config.ConfigException;
import dev.cherryq.fleet.config.FleetConfig;
import io.vertx.core.Deployable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

/**
 * The body of every stage's main: read and validate the configuration from the environment (exit 2 naming the bad
 * keys), start the process, stop cleanly on SIGTERM, exit 1 if start-up fails.
 */
public final class FleetMain {

    private FleetMain() {}

    public static int serve(String processName, Map<String, String> environment,
            List<Function<FleetContext, Deployable>> verticles) {
        FleetConfig config;
        try {
            config = FleetConfig.from(environment);
        } catch (ConfigException e) {
            System.err.println(processName + ": " + e.getMessage());
            return 2;
        }
        ServiceHost host;
        try {
            host = ServiceHost.start(config, environment, processName, verticles);
        } catch (Exception e) {
            System.err.println(processName + ": start-up failed: " + e);
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            host.close();
            stopped.countDown();
        }, "cherryq-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    /** For a stage module's {@code main}: serve and exit with the status. */
    public static void main(String processName, List<Function<FleetContext, Deployable>> verticles) {
        int status = serve(processName, System.getenv(), verticles);
        if (status != 0) {
            System.exit(status);
        }
    }
}
