// What a C-heap trim costs the next task: frees N MiB of 1 MiB malloc blocks (kept in glibc's heap by a fence), then
// allocates and touches N MiB again, without and with a trim (System.trim_native_heap, as fleet.task.NativeHeap runs
// it) in between, three times each. Run: java scripts/TrimRefaultCost.java 400   (docs/BENCHMARKS.md, Findings 5)
import java.lang.management.ManagementFactory;
import javax.management.ObjectName;

public class TrimRefaultCost {

    private static final long MIB = 1 << 20;

    public static void main(String[] args) throws Exception {
        var field = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        field.setAccessible(true);
        sun.misc.Unsafe unsafe = (sun.misc.Unsafe) field.get(null);
        unsafe.freeMemory(unsafe.allocateMemory(64 * MIB)); // raises glibc's mmap threshold: 1 MiB blocks come from the heap
        int mib = args.length > 0 ? Integer.parseInt(args[0]) : 400;
        for (int round = 0; round < 6; round++) {
            boolean trim = round % 2 == 1;
            long[] blocks = new long[mib];
            for (int i = 0; i < mib; i++) {
                blocks[i] = unsafe.allocateMemory(MIB);
                unsafe.setMemory(blocks[i], MIB, (byte) 1);
            }
            long fence = unsafe.allocateMemory(4096); // glibc would return free memory at the heap's top by itself
            for (long block : blocks) {
                unsafe.freeMemory(block);
            }
            long trimStarted = System.nanoTime();
            if (trim) {
                ManagementFactory.getPlatformMBeanServer().invoke(
                        new ObjectName("com.sun.management:type=DiagnosticCommand"), "systemTrimNativeHeap",
                        new Object[] {null}, new String[] {String[].class.getName()});
            }
            long touchStarted = System.nanoTime();
            for (int i = 0; i < mib; i++) {
                blocks[i] = unsafe.allocateMemory(MIB);
                unsafe.setMemory(blocks[i], MIB, (byte) 2);
            }
            long touchEnded = System.nanoTime();
            for (long block : blocks) {
                unsafe.freeMemory(block);
            }
            unsafe.freeMemory(fence);
            System.out.printf("%-9s trim %6.1f ms, then allocating and touching %d MiB %6.1f ms%n",
                    trim ? "trim" : "no trim", (touchStarted - trimStarted) / 1e6, mib, (touchEnded - touchStarted) / 1e6);
        }
    }
}
