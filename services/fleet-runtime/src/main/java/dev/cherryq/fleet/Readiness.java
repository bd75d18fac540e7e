package dev.cherryq.fleet;

/** A verticle that can tell whether it is ready to work; {@code /ready} answers 200 when all of them are. */
public interface Readiness {

    boolean isReady();
}
