package dev.cherryq.cli.console;

/** The exit codes of {@code cherryq}: 0 for success, 2 for a user error (a bad input or request), 1 for the rest. */
public final class ExitCode {

    public static final int USER_ERROR = 2;
    public static final int INTERNAL_ERROR = 1;

    private ExitCode() {}
}
