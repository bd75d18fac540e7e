package dev.cherryq.it.support;

import com.google.protobuf.Message;
import com.google.protobuf.TextFormat;
import dev.cherryq.fleet.task.StageBinding;
import dev.cherryq.fleet.task.StageHandler;
import dev.cherryq.fleet.task.TaskOutcome;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A stage's real handler with a fault-injection point for the kill tests. When the test has armed this stage (a
 * file {@code arm-<stage>} holding "hold-ms match-text") and a task's text form contains the match text, the first
 * such task (claimed by deleting the file) writes {@code <stage>.started} with this process's pid, runs the real
 * handler, writes {@code <stage>.handled}, and then holds before returning: its outputs are in the store, but its
 * messages are not published and its offset not committed. The test kills the process with SIGKILL inside that
 * window, or during the real compute (between the two markers).
 */
final class HoldingHandler<T extends Message> implements StageHandler<T> {

    private final StageHandler<T> delegate;
    private final Path markers;
    private final String stage;

    HoldingHandler(StageHandler<T> delegate, Path markers) {
        this.delegate = delegate;
        this.markers = markers;
        this.stage = delegate.binding().stage().name().replace("STAGE_", "").toLowerCase(Locale.ROOT);
    }

    @Override
    public StageBinding<T> binding() {
        return delegate.binding();
    }

    @Override
    public boolean usesCompute() {
        return delegate.usesCompute();
    }

    @Override
    public void warmUp() throws Exception {
        delegate.warmUp();
    }

    @Override
    public TaskOutcome handle(T message) throws Exception {
        long holdMs = claim(message);
        if (holdMs < 0) {
            return delegate.handle(message);
        }
        String pid = Long.toString(ProcessHandle.current().pid());
        Files.writeString(markers.resolve(stage + ".started"), pid);
        TaskOutcome outcome = delegate.handle(message);
        Files.writeString(markers.resolve(stage + ".handled"), pid);
        Thread.sleep(holdMs);
        return outcome;
    }

    /** The hold in ms when this task takes the armed fault, else -1. */
    private long claim(T message) throws IOException {
        Path arm = markers.resolve("arm-" + stage);
        String spec;
        try {
            spec = Files.readString(arm).trim();
        } catch (NoSuchFileException e) {
            return -1;
        }
        String[] parts = spec.split(" ", 2);
        if (parts.length == 2 && !TextFormat.printer().shortDebugString(message).contains(parts[1])) {
            return -1;
        }
        try {
            Files.delete(arm);
        } catch (NoSuchFileException e) {
            return -1; // another task took it
        }
        return Long.parseLong(parts[0]);
    }
}
