package dev.cherryq.fleet.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A process's resident memory from Linux's {@code /proc/PID/status} (proc(5)): {@code VmRSS} now, {@code VmHWM} its
 * peak. Elsewhere, or for a process that is gone, the values are unknown (-1 kB, NaN MiB).
 */
public final class ProcessMemory {

    private ProcessMemory() {}

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

    /** This process's resident set now (VmRSS) in MiB, NaN when unknown. */
    public static double residentMib() {
        long kilobytes = statusKilobytes("VmRSS:");
        return kilobytes < 0 ? Double.NaN : kilobytes / 1024.0;
    }

    /** This process's peak resident set (VmHWM) in MiB, NaN when unknown. */
    public static double peakMib() {
        long kilobytes = statusKilobytes("VmHWM:");
        return kilobytes < 0 ? Double.NaN : kilobytes / 1024.0;
    }
}
