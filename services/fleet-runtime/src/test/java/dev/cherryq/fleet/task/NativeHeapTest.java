package dev.cherryq.fleet.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.cherryq.fleet.metrics.ProcessMemory;
import java.lang.reflect.Field;
import org.junit.jupiter.api.Test;

/**
 * {@link NativeHeap} against the kernel's own count: C-heap memory freed in holes that glibc keeps (it only returns
 * the top of its heap by itself) is resident until a trim, and the trim hands it back, as {@code /proc/self/status}
 * says; and the idle rule trims only between tasks, once per task ended.
 */
class NativeHeapTest {

    private static final long MIB = 1L << 20;

    private static sun.misc.Unsafe unsafe() throws ReflectiveOperationException {
        Field field = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        field.setAccessible(true);
        return (sun.misc.Unsafe) field.get(null);
    }

    @Test
    void shouldHandFreedHolesOfTheCHeapBackToTheSystem() throws Exception {
        assumeTrue(!Double.isNaN(ProcessMemory.residentMib()), "needs Linux's /proc to read the resident set");
        assumeTrue(NativeHeap.trim() != null, "this JVM or C library cannot trim its heap (not glibc)");
        sun.misc.Unsafe unsafe = unsafe();
        // freeing one 8 MiB block raises glibc's mmap threshold, so the 1 MiB blocks below come from its heap
        unsafe.freeMemory(unsafe.allocateMemory(8 * MIB));
        long[] blocks = new long[160];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = unsafe.allocateMemory(MIB);
            unsafe.setMemory(blocks[i], MIB, (byte) 1); // touched: resident
        }
        try {
            for (int i = 0; i < blocks.length; i += 2) { // every other block: 80 MiB of holes between live blocks
                unsafe.freeMemory(blocks[i]);
                blocks[i] = 0;
            }
            double beforeTrim = ProcessMemory.residentMib();
            String report = NativeHeap.trim();
            double afterTrim = ProcessMemory.residentMib();
            assertTrue(beforeTrim - afterTrim >= 40, "the trim returned " + (beforeTrim - afterTrim)
                    + " MiB of 80 MiB of freed holes (" + report + ")");
        } finally {
            for (long block : blocks) {
                if (block != 0) {
                    unsafe.freeMemory(block);
                }
            }
        }
    }

    @Test
    void shouldTrimOnlyOnceIdleAndOncePerTaskEnded() throws Exception {
        assumeTrue(NativeHeap.trim() != null, "this JVM or C library cannot trim its heap (not glibc)");
        long idleMillis = Math.max(NativeHeap.IDLE_NANOS, NativeHeap.MIN_INTERVAL_NANOS) / 1_000_000 + 50;
        NativeHeap.taskStarted();
        NativeHeap.taskEnded();
        NativeHeap.taskStarted(); // a second task still running
        Thread.sleep(idleMillis);
        assertFalse(NativeHeap.trimIfIdle(), "trimmed while a task ran");
        NativeHeap.taskEnded();
        assertFalse(NativeHeap.trimIfIdle(), "trimmed right after a task: the next task would fault its pages back");
        Thread.sleep(idleMillis);
        long trims = NativeHeap.trims();
        assertTrue(NativeHeap.trimIfIdle(), "idle long enough after a task ended: trims");
        assertEquals(trims + 1, NativeHeap.trims());
        Thread.sleep(idleMillis);
        assertFalse(NativeHeap.trimIfIdle(), "no task ended since the last trim: nothing to give back");
        NativeHeap.taskStarted();
        NativeHeap.taskEnded();
        Thread.sleep(idleMillis);
        assertTrue(NativeHeap.trimIfIdle(), "a task ended, idle since, the last trim over a second old: trims");
    }
}
