package dev.cherryq.fleet.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.proto.v1.ErrorRecord;
import dev.cherryq.proto.v1.Stage;
import java.io.IOException;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

class ErrorClassifierTest {

    @Test
    void shouldFailOutOfMemoryForGoodInsteadOfRetryingIt() {
        ErrorRecord oom = ErrorClassifier.classify(new ExecutionException(new OutOfMemoryError("Java heap space")),
                Stage.STAGE_TRAINER);
        assertFalse(oom.getRetriable());
        assertEquals(FatalTaskException.RESOURCE_EXHAUSTED, oom.getCode());
        assertEquals("Java heap space", oom.getMessage());
        assertFalse(ErrorClassifier.classify(new StackOverflowError(), Stage.STAGE_SCORER).getRetriable());
    }

    @Test
    void shouldRetryIoAndUnexpectedErrorsAndFailInvalidInput() {
        ErrorRecord io = ErrorClassifier.classify(new IOException("connection reset"), Stage.STAGE_SCORER);
        assertTrue(io.getRetriable());
        assertEquals("IO", io.getCode());
        assertTrue(ErrorClassifier.classify(new IllegalStateException("?"), Stage.STAGE_SCORER).getRetriable());
        ErrorRecord invalid = ErrorClassifier.classify(new RuntimeException(new InvalidInputException("bits: 9")),
                Stage.STAGE_PLANNER);
        assertFalse(invalid.getRetriable());
        assertEquals(FatalTaskException.INVALID_REQUEST, invalid.getCode());
    }
}
