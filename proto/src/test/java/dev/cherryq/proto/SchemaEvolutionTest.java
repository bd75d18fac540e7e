package dev.cherryq.proto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.cherryq.proto.evolution.StageProgressNext;
import dev.cherryq.proto.evolution.TensorRefNext;
import dev.cherryq.proto.v1.Stage;
import dev.cherryq.proto.v1.StageProgress;
import dev.cherryq.proto.v1.TensorRef;
import org.junit.jupiter.api.Test;

/**
 * The evolution rule (fields are only ever added, never renumbered or retyped) holds in both directions: a reader on
 * the current schema parses what a newer writer wrote, and a newer reader parses what the current schema wrote.
 * The "next" messages live in src/test/proto/evolution/next.proto.
 */
class SchemaEvolutionTest {

    @Test
    void shouldParseMessagesFromANewerSchemaWithAddedFields() throws Exception {
        byte[] newer = TensorRefNext.newBuilder().setUri("s3://b/jobs/j/scorer/fisher-00000").setDtype("F32")
                .addShape(64).addShape(256).setByteLength(65_536).setSha256("ab".repeat(32))
                .setMediaType("application/x-safetensors").setCompression("zstd").addTags("hot").build().toByteArray();
        TensorRef current = TensorRef.parseFrom(newer);
        assertEquals("s3://b/jobs/j/scorer/fisher-00000", current.getUri());
        assertEquals(java.util.List.of(64L, 256L), current.getShapeList());
        assertEquals(65_536, current.getByteLength());
        assertFalse(current.getUnknownFields().asMap().isEmpty(), "added fields are kept as unknown fields");
        // and re-serializing keeps them, so a relay on the old schema does not drop a newer producer's data
        assertEquals("zstd", TensorRefNext.parseFrom(current.toByteArray()).getCompression());

        byte[] progress = StageProgressNext.newBuilder().setStage(Stage.STAGE_TRAINER_VALUE).setDone(2).setTotal(4)
                .setDetail("loss 2.9").addCompleted(0).addCompleted(1).setTokensPerSecond(812.5).build().toByteArray();
        StageProgress parsed = StageProgress.parseFrom(progress);
        assertEquals(Stage.STAGE_TRAINER, parsed.getStage());
        assertEquals(java.util.List.of(0, 1), parsed.getCompletedList());
    }

    @Test
    void shouldLetANewerSchemaReadWhatTheCurrentOneWrote() throws Exception {
        byte[] current = TensorRef.newBuilder().setUri("file:///store/jobs/j/planner/eval-tokens.i32").setDtype("I32")
                .addShape(1000).setByteLength(4000).setSha256("cd".repeat(32)).build().toByteArray();
        TensorRefNext newer = TensorRefNext.parseFrom(current);
        assertEquals("I32", newer.getDtype());
        assertEquals("", newer.getCompression(), "an added field reads as its default");
    }
}
