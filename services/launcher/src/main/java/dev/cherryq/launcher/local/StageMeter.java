package dev.cherryq.launcher.local;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.launcher.Json;
import dev.cherryq.fleet.metrics.ProcessMemory;
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
        long peak = ProcessMemory.statusKilobytes("VmHWM:");
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
}
