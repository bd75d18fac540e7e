package dev.cherryq.launcher.local;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.launcher.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Wall time and peak resident memory per stage of a job. On Linux the process's peak RSS (VmHWM) is reset at the
 * start of each stage (writing 5 to /proc/self/clear_refs), so each stage reports its own peak; elsewhere the
 * peak is reported as unknown.
 */
public final class StageMeter {

    private final ArrayNode stages = Json.MAPPER.createArrayNode();
    private String current;
    private long started;

    public void start(String stage) {
        finish();
        current = stage;
        started = System.nanoTime();
        resetPeak();
    }

    public void finish() {
        if (current == null) {
            return;
        }
        ObjectNode entry = stages.addObject();
        entry.put("stage", current);
        entry.put("seconds", (System.nanoTime() - started) / 1e9);
        long peak = statusKilobytes("VmHWM:");
        if (peak >= 0) {
            entry.put("peak_rss_mib", peak / 1024.0);
        } else {
            entry.putNull("peak_rss_mib");
        }
        current = null;
    }

    public ArrayNode stages() {
        finish();
        return stages;
    }

    private static void resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // not Linux, or not allowed: peaks are then cumulative for the process
        }
    }

    /** A field of /proc/self/status in kB, or -1 when unavailable. */
    public static long statusKilobytes(String field) {
        return statusKilobytes(ProcessHandle.current().pid(), field);
    }

    /** A field of /proc/PID/status in kB, or -1 when unavailable (not Linux, or the process is gone). */
    public static long statusKilobytes(long pid, String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
