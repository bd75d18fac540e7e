package dev.cherryq.scorer;

import dev.cherryq.fleet.FleetMain;
import dev.cherryq.fleet.StageVerticle;
import java.util.List;

/** {@code cherryq serve scorer}: one scorer worker; run as many as the score-tasks topic has partitions. */
public final class ScorerMain {

    private ScorerMain() {}

    public static void main(String[] args) {
        FleetMain.main("scorer", List.of(StageVerticle.of(ScorerHandler::new)));
    }
}
