package dev.cherryq.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.storage.ObjectStore;
import dev.cherryq.it.support.ItFleet;
import dev.cherryq.proto.v1.Stage;
import java.time.Duration;

/** What a completed job produced: its CherryQ perplexity and the sha256 of its cherry set in the store. */
record JobOutcome(String jobId, double meanNll, long predictedTokens, String cherriesSha256) {

    static final Duration JOB_TIMEOUT = Duration.ofMinutes(5);

    static JobOutcome of(ItFleet fleet, dev.cherryq.it.support.GatewayApi api, String jobId) throws Exception {
        JsonNode status = api.awaitEnd(jobId, JOB_TIMEOUT);
        assertEquals("JOB_STATE_COMPLETED", status.path("state").asText(), status.toString());
        JsonNode report = api.report(jobId);
        JsonNode row = null;
        for (JsonNode candidate : report.path("results")) {
            if (candidate.path("variant").asText().equals("cherryq")) {
                row = candidate;
            }
        }
        if (row == null) {
            throw new AssertionError("no cherryq row in " + report);
        }
        String sha;
        try (ObjectStore store = fleet.store()) {
            sha = store.stat(ObjectKeys.of(jobId, Stage.STAGE_SELECTOR, "cherries.safetensors"),
                    ObjectStore.MEDIA_SAFETENSORS).orElseThrow(() -> new AssertionError("no cherry set for " + jobId))
                    .getSha256();
        }
        return new JobOutcome(jobId, row.path("mean_nll").asDouble(), row.path("predicted_tokens").asLong(), sha);
    }

    /** Same cherry set (bit for bit) and the same perplexity to 1e-6 relative. */
    void assertSameResultAs(JobOutcome undisturbed) {
        assertEquals(undisturbed.cherriesSha256(), cherriesSha256(), "the same cherry set as the undisturbed run");
        assertEquals(undisturbed.predictedTokens(), predictedTokens(), "the same evaluation tokens");
        assertEquals(undisturbed.meanNll(), meanNll(), 1e-6 * undisturbed.meanNll(),
                "the same CherryQ mean NLL as the undisturbed run (1e-6 relative)");
    }
}
