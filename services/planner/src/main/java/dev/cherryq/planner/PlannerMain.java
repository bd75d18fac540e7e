package dev.cherryq.planner;

import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.FleetMain;
import dev.cherryq.fleet.StageVerticle;
import io.vertx.core.Deployable;
import java.util.List;
import java.util.function.Function;

/**
 * {@code cherryq serve planner}: one planner worker; run as many as the requests topic has partitions (a job is
 * planned once whichever worker gets it, through its completion marker).
 */
public final class PlannerMain {

    private PlannerMain() {}

    /** The planner's verticles; shared by this main, {@code cherryq serve planner} and the embedded mode. */
    public static List<Function<FleetContext, Deployable>> verticles() {
        return List.of(StageVerticle.of(PlannerHandler::new));
    }

    public static void main(String[] args) {
        FleetMain.main("planner", verticles());
    }
}
