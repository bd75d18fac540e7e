package dev.cherryq.gateway;

import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.FleetMain;
import dev.cherryq.fleet.StageVerticle;
import io.vertx.core.Deployable;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import java.util.List;
import java.util.function.Function;

/**
 * {@code cherryq serve gateway}: the HTTP API and the job status folder and table. Planning is a stage of its own
 * ({@code cherryq serve planner}).
 */
public final class GatewayMain {

    private GatewayMain() {}

    /** The gateway's verticles, in deployment order; shared by this main and the embedded mode. */
    public static List<Function<FleetContext, Deployable>> verticles() {
        JobStatusTable[] table = new JobStatusTable[1];
        return List.of(fleet -> new TableVerticle(table, fleet),
                fleet -> new StageVerticle<>(fleet, new JobStatusFolder(table[0])),
                fleet -> new GatewayVerticle(fleet, table[0]));
    }

    public static void main(String[] args) {
        FleetMain.main("gateway", verticles());
    }

    /** Runs the status table's reader for the lifetime of the process. */
    private static final class TableVerticle extends VerticleBase {
        private final JobStatusTable[] holder;

        TableVerticle(JobStatusTable[] holder, FleetContext fleet) {
            this.holder = holder;
            holder[0] = new JobStatusTable(fleet.clients(), fleet.processName() + "-status-table");
        }

        @Override
        public Future<?> start() {
            holder[0].start();
            return Future.succeededFuture();
        }

        @Override
        public Future<?> stop() {
            return vertx.executeBlocking(() -> {
                holder[0].close();
                return null;
            });
        }
    }
}
