package dev.cherryq.cli.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.launcher.Json;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** A followed job's end as the user sees it: the exit code, and the error line of a failed job. */
class JobOutcomeTest {

    private static JsonNode status(String json) throws Exception {
        return Json.MAPPER.readTree(json);
    }

    @Test
    void shouldExitZeroForACompletedJobAndTwoOrOneForAFailedOneByItsErrorCode() throws Exception {
        StringWriter text = new StringWriter();
        PrintWriter out = new PrintWriter(text);
        assertEquals(0, JobOutcome.of(status("{\"state\": \"JOB_STATE_COMPLETED\"}"), "j1", out, "resume"));
        assertEquals("", text.toString());
        assertEquals(ExitCode.USER_ERROR, JobOutcome.of(status("{\"state\": \"JOB_STATE_FAILED\", \"error\": "
                + "{\"stage\": \"STAGE_PLANNER\", \"code\": \"INVALID_REQUEST\", \"message\": \"bits: 9\"}}"), "j1", out,
                "resume"));
        assertEquals("job j1 FAILED in planner: INVALID_REQUEST: bits: 9", text.toString().strip());
        assertEquals(ExitCode.INTERNAL_ERROR, JobOutcome.of(status("{\"state\": \"JOB_STATE_FAILED\", \"error\": "
                + "{\"stage\": \"STAGE_TRAINER\", \"code\": \"RETRIES_EXHAUSTED\"}}"), "j1", out, "resume"));
    }

    @Test
    void shouldNameTheCommandThatResumesAFollowThatEndedEarly() throws Exception {
        String message = assertThrows(InvalidInputException.class, () -> JobOutcome.of(
                status("{\"state\": \"JOB_STATE_RUNNING\"}"), "j1", new PrintWriter(new StringWriter()),
                "cherryq watch j1")).getMessage();
        assertTrue(message.contains("ended while it is RUNNING") && message.contains("'cherryq watch j1'"), message);
        // a status with no state yet is a queued job
        assertTrue(assertThrows(InvalidInputException.class, () -> JobOutcome.of(status("{}"), "j1",
                new PrintWriter(new StringWriter()), "r")).getMessage().contains("while it is QUEUED"));
    }
}
