package dev.cherryq.it.support;

import dev.cherryq.evaluator.EvalFanInHandler;
import dev.cherryq.evaluator.EvaluatorHandler;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.FleetMain;
import dev.cherryq.fleet.StageVerticle;
import dev.cherryq.planner.PlannerMain;
import dev.cherryq.scorer.ScorerHandler;
import dev.cherryq.selector.LayerSelectHandler;
import dev.cherryq.selector.SelectionFanInHandler;
import dev.cherryq.selector.SelectorHandler;
import dev.cherryq.trainer.TrainerHandler;
import io.vertx.core.Deployable;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/**
 * A stage worker process for the integration tests: the same verticles as {@code cherryq serve <stage>}, each
 * task stage's handler wrapped in a {@link HoldingHandler} so a test can kill the process at a chosen point of a
 * task; the planner runs as served, unwrapped (no test kills it, and it dead-letters what it cannot plan).
 * {@code stages} is the four task stages, scorer to evaluator, without the planner.
 */
public final class ItWorkerMain {

    static final String MARKERS_PROPERTY = "cherryq.it.markers";

    private ItWorkerMain() {}

    public static void main(String[] args) {
        Path markers = Path.of(System.getProperty(MARKERS_PROPERTY));
        FleetMain.main(args[0] + "-" + ProcessHandle.current().pid(), verticles(args[0], markers));
    }

    static List<Function<FleetContext, Deployable>> verticles(String stage, Path markers) {
        return switch (stage) {
            case "planner" -> PlannerMain.verticles();
            case "scorer" -> List.of(StageVerticle.of(f -> new HoldingHandler<>(new ScorerHandler(f), markers)));
            case "selector" -> List.of(StageVerticle.of(f -> new HoldingHandler<>(new SelectorHandler(f), markers)),
                    StageVerticle.of(f -> new HoldingHandler<>(new LayerSelectHandler(f), markers)),
                    StageVerticle.of(f -> new HoldingHandler<>(new SelectionFanInHandler(f), markers)));
            case "trainer" -> List.of(StageVerticle.of(f -> new HoldingHandler<>(new TrainerHandler(f), markers)));
            case "evaluator" -> List.of(StageVerticle.of(f -> new HoldingHandler<>(new EvaluatorHandler(f), markers)),
                    StageVerticle.of(f -> new HoldingHandler<>(new EvalFanInHandler(f), markers)));
            case "stages" -> {
                List<Function<FleetContext, Deployable>> all = new java.util.ArrayList<>();
                for (String each : List.of("scorer", "selector", "trainer", "evaluator")) {
                    all.addAll(verticles(each, markers));
                }
                yield all;
            }
            default -> throw new IllegalArgumentException("unknown stage " + stage);
        };
    }
}
