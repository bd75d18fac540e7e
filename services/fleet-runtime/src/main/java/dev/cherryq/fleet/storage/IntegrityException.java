package dev.cherryq.fleet.storage;

/** An object's bytes do not match its reference (sha256 or length): fatal, never retried. */
public final class IntegrityException extends RuntimeException {

    public IntegrityException(String message) {
        super(message);
    }
}
