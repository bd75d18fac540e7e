package dev.cherryq.evaluator;

import dev.cherryq.fleet.FleetMain;
import dev.cherryq.fleet.StageVerticle;
import java.util.List;

/** {@code cherryq serve evaluator}: evaluation workers and the evaluation fan-in, in one process. */
public final class EvaluatorMain {

    private EvaluatorMain() {}

    public static void main(String[] args) {
        FleetMain.main("evaluator", List.of(StageVerticle.of(EvaluatorHandler::new),
                StageVerticle.of(EvalFanInHandler::new)));
    }
}
