package dev.cherryq.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.cherryq.core.model.LlamaCheckpoint;
import dev.cherryq.core.model.LlamaModel;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Arrays made from Java values hold no direct-buffer memory once made (so closing them frees their memory without
 * waiting for a garbage collection), and keep their values after collections. The reference is the JVM's own count
 * of direct-buffer bytes; DJL's {@code manager.create} leaves the whole array's bytes counted there until the
 * collector finds its buffer.
 */
class NativeArraysTest {

    private static long directBytes() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(pool -> pool.getName().equals("direct")).findFirst().orElseThrow().getMemoryUsed();
    }

    @Test
    void shouldHoldValuesInPyTorchMemoryWithNoDirectBufferLeftBehind() {
        float[] floats = new float[1 << 20];
        for (int i = 0; i < floats.length; i++) {
            floats[i] = i * 0.5f - 7;
        }
        try (NDManager manager = DjlRuntime.newManager()) {
            TestFixtures.collectGarbage(); // buffers other tests left for the collector
            long before = directBytes();
            NDArray array = NativeArrays.of(manager, floats, new Shape(1024, 1024));
            NDArray ids = NativeArrays.of(manager, new long[] {3, -1, Long.MAX_VALUE, 0}, new Shape(2, 2));
            NDArray ints = NativeArrays.of(manager, new int[] {5, Integer.MIN_VALUE}, new Shape(2));
            assertEquals(before, directBytes(), "bytes still counted in direct buffers");
            TestFixtures.collectGarbage(); // the values live in PyTorch's memory, not in a collectable buffer
            assertArrayEquals(floats, array.toFloatArray());
            assertEquals(new Shape(1024, 1024), array.getShape());
            assertArrayEquals(new long[] {3, -1, Long.MAX_VALUE, 0}, ids.toLongArray());
            assertEquals(DataType.INT64, ids.getDataType());
            assertArrayEquals(new int[] {5, Integer.MIN_VALUE}, ints.toIntArray());
            // the control: DJL's own create keeps the 4 MiB counted until a collection
            try (NDArray viaDjl = manager.create(floats, new Shape(1024, 1024))) {
                assertEquals(before + 4L * floats.length, directBytes(), 64.0 * 1024);
            }
        }
    }

    @Test
    void shouldLeaveNoDirectMemoryBehindWhenAModelIsLoadedAndClosed() {
        Path demo = Path.of("../../models/demo").toAbsolutePath().normalize();
        TestFixtures.collectGarbage(); // buffers other tests left for the collector
        long before = directBytes();
        try (LlamaCheckpoint checkpoint = LlamaCheckpoint.open(demo); LlamaModel model = LlamaModel.load(checkpoint)) {
            assertEquals(before, directBytes(), 64.0 * 1024, "a loaded model's weights in direct buffers");
        }
        assertEquals(before, directBytes(), 64.0 * 1024);
    }
}
