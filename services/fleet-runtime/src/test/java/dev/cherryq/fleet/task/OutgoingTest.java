package dev.cherryq.fleet.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Where a job's shards land: every shard on its own partition, and, for every job hash, two workers holding
 * contiguous halves of the topic (or alternate partitions) get shares of a job's 8 shards no more uneven than 5/3;
 * counted here directly over all 12 bases, against the 6/2 that consecutive partitions give.
 */
class OutgoingTest {

    private static int inLowerHalf(int base, int shards, int partitions, boolean strided) {
        int count = 0;
        for (int shard = 0; shard < shards; shard++) {
            int partition = strided ? Outgoing.partition(base + shard, partitions)
                    : Math.floorMod(base + shard, partitions);
            count += partition < partitions / 2 ? 1 : 0;
        }
        return count;
    }

    @Test
    void shouldPutEveryShardOnItsOwnPartitionAndSplitContiguousHalvesAtWorstFiveToThree() {
        int worstStrided = 0;
        int worstConsecutive = 0;
        for (int base = 0; base < 12; base++) {
            Set<Integer> used = new HashSet<>();
            int even = 0;
            for (int shard = 0; shard < 12; shard++) {
                int partition = Outgoing.partition(base + shard, 12);
                assertTrue(used.add(partition), "shard " + shard + " shares partition " + partition);
                even += shard < 8 && partition % 2 == 0 ? 1 : 0;
            }
            assertEquals(4, even, "alternate partitions: 4 of 8 shards each, base " + base);
            int lower = inLowerHalf(base, 8, 12, true);
            worstStrided = Math.max(worstStrided, Math.max(lower, 8 - lower));
            int naive = inLowerHalf(base, 8, 12, false);
            worstConsecutive = Math.max(worstConsecutive, Math.max(naive, 8 - naive));
        }
        assertEquals(5, worstStrided);
        assertEquals(6, worstConsecutive, "what consecutive partitions gave");
        assertEquals(3, Outgoing.partition(3, 6), "6 partitions: no stride above 1 is coprime, so consecutive");
        assertEquals(Outgoing.partition(-7, 12), Math.floorMod(-35, 12), "negative job hashes too");
    }
}
