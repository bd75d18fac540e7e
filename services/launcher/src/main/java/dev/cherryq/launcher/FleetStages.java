package dev.cherryq.launcher;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.evaluator.EvalFanInHandler;
import dev.cherryq.evaluator.EvaluatorHandler;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.StageVerticle;
import dev.cherryq.gateway.GatewayMain;
import dev.cherryq.planner.PlannerMain;
import dev.cherryq.scorer.ScorerHandler;
import dev.cherryq.selector.SelectorMain;
import dev.cherryq.trainer.TrainerHandler;
import io.vertx.core.Deployable;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The verticles of each servable stage and the main class that runs it as a process of its own; {@code all} is the
 * embedded mode's set. {@code cherryq serve}, the embedded fleet and its worker processes start stages from here.
 */
public final class FleetStages {

    public static final List<String> NAMES = List.of("planner", "scorer", "selector", "trainer", "evaluator", "gateway",
            "all");

    private FleetStages() {}

    public static List<Function<FleetContext, Deployable>> verticles(String stage) {
        return switch (stage) {
            case "planner" -> PlannerMain.verticles();
            case "scorer" -> List.of(StageVerticle.of(ScorerHandler::new));
            case "selector" -> SelectorMain.verticles();
            case "trainer" -> List.of(StageVerticle.of(TrainerHandler::new));
            case "evaluator" -> List.of(StageVerticle.of(EvaluatorHandler::new), StageVerticle.of(EvalFanInHandler::new));
            case "gateway" -> GatewayMain.verticles();
            case "all" -> {
                List<Function<FleetContext, Deployable>> all = new ArrayList<>(GatewayMain.verticles());
                for (String name : List.of("planner", "scorer", "selector", "trainer", "evaluator")) {
                    all.addAll(verticles(name));
                }
                yield all;
            }
            default -> throw new InvalidInputException("unknown stage '" + stage + "' (stages: "
                    + String.join(", ", NAMES) + ")");
        };
    }

    /** The main class of a stage, for starting it as a separate process. */
    public static String mainClass(String stage) {
        return switch (stage) {
            case "planner" -> "dev.cherryq.planner.PlannerMain";
            case "scorer" -> "dev.cherryq.scorer.ScorerMain";
            case "selector" -> "dev.cherryq.selector.SelectorMain";
            case "trainer" -> "dev.cherryq.trainer.TrainerMain";
            case "evaluator" -> "dev.cherryq.evaluator.EvaluatorMain";
            case "gateway" -> "dev.cherryq.gateway.GatewayMain";
            default -> throw new InvalidInputException("unknown stage '" + stage + "'");
        };
    }
}
