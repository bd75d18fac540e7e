package dev.cherryq.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cherryq.fleet.FleetMain;
import dev.cherryq.launcher.FleetStages;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A service with an invalid configuration exits 2 naming every bad key, before connecting to anything. */
class ServeConfigTest {

    @Test
    void shouldExitWithStatusTwoNamingTheBadKeys() {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int status;
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            status = FleetMain.serve("scorer", Map.of("CHERRYQ_STORE", "s3", "CHERRYQ_HTTP_PORT", "70000",
                    "CHERRYQ_S3_SECRET_ACCESS_KEY", "do-not-print-me"), FleetStages.verticles("scorer"));
        } finally {
            System.setErr(original);
        }
        String message = captured.toString(StandardCharsets.UTF_8);
        assertEquals(2, status, message);
        assertTrue(message.contains("CHERRYQ_KAFKA_BOOTSTRAP_SERVERS: required"), message);
        assertTrue(message.contains("CHERRYQ_HTTP_PORT: 70000 is outside 0..65535"), message);
        assertTrue(message.contains("CHERRYQ_S3_BUCKET: required with CHERRYQ_STORE=s3"), message);
        assertTrue(!message.contains("do-not-print-me"), message);
    }

    @Test
    void shouldRefuseAnUnknownStage() {
        CliTest.Run run = CliTest.cherryq("serve", "optimizer");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("unknown stage 'optimizer'"), run.err());
    }
}
