package dev.cherryq.selector;

import dev.cherryq.fleet.FleetMain;
import dev.cherryq.fleet.StageVerticle;
import java.util.List;

/** {@code cherryq serve selector}: the fan-in of Fisher partials and cherry selection. */
public final class SelectorMain {

    private SelectorMain() {}

    public static void main(String[] args) {
        FleetMain.main("selector", List.of(StageVerticle.of(SelectorHandler::new)));
    }
}
