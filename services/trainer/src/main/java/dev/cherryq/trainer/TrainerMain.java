package dev.cherryq.trainer;

import dev.cherryq.fleet.FleetMain;
import dev.cherryq.fleet.StageVerticle;
import java.util.List;

/** {@code cherryq serve trainer}: QAT segments; a job's segments run one after another, on any trainer. */
public final class TrainerMain {

    private TrainerMain() {}

    public static void main(String[] args) {
        FleetMain.main("trainer", List.of(StageVerticle.of(TrainerHandler::new)));
    }
}
