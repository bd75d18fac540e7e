package dev.cherryq.core;

/**
 * A fatal, user-facing error: the input (a file, a field, an argument) is wrong and retrying will not help.
 * The message is one line that names the file or field and, where possible, what to do about it.
 */
public class InvalidInputException extends RuntimeException {

    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
