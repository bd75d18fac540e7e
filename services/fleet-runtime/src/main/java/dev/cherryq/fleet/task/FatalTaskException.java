package dev.cherryq.fleet.task;

/** A failure that retrying cannot fix: a bad message or request, a corrupted object. Carries an error code. */
public final class FatalTaskException extends RuntimeException {

    public static final String INVALID_MESSAGE = "INVALID_MESSAGE";
    public static final String WRONG_TYPE = "WRONG_TYPE";
    public static final String TOO_LARGE = "TOO_LARGE";
    public static final String INVALID_REQUEST = "INVALID_REQUEST";
    public static final String INTEGRITY = "INTEGRITY";
    public static final String NOT_FOUND = "NOT_FOUND";
    public static final String RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED";
    /** The JVM ran out of a resource (memory, stack) or could not link code: retrying the same task repeats it. */
    public static final String RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED";

    private final String code;

    public FatalTaskException(String code, String message) {
        super(message);
        this.code = code;
    }

    public FatalTaskException(String code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public String code() {
        return code;
    }
}
