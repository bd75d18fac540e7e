package dev.cherryq.core;

/** Reports progress of long work; the CLI draws it as a bar, services export it as a metric. */
@FunctionalInterface
public interface Progress {

    Progress NONE = (done, total, detail) -> { };

    /** {@code done} of {@code total} units are finished; {@code detail} says what, briefly (may be empty). */
    void update(long done, long total, String detail);
}
