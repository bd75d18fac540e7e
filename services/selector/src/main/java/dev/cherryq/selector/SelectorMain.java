package dev.cherryq.selector;

import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.FleetMain;
import dev.cherryq.fleet.StageVerticle;
import io.vertx.core.Deployable;
import java.util.List;
import java.util.function.Function;

/**
 * {@code cherryq serve selector}: the fan-in of scoring shards, the per-layer selection tasks and the fan-in that
 * assembles their cherries, in one process (each on its own consumer group, so layer tasks spread over every
 * selector process).
 */
public final class SelectorMain {

    private SelectorMain() {}

    /** The selector's verticles: score fan-in, per-layer selection, selection fan-in. */
    public static List<Function<FleetContext, Deployable>> verticles() {
        return List.of(StageVerticle.of(SelectorHandler::new), StageVerticle.of(LayerSelectHandler::new),
                StageVerticle.of(SelectionFanInHandler::new));
    }

    public static void main(String[] args) {
        FleetMain.main("selector", verticles());
    }
}
