package dev.cherryq.fleet.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FleetConfigTest {

    private static Map<String, String> valid() {
        Map<String, String> environment = new HashMap<>();
        environment.put("CHERRYQ_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092");
        environment.put("CHERRYQ_STORE_DIR", "/tmp/cherryq-store");
        return environment;
    }

    @Test
    void shouldParseAValidEnvironmentWithDefaults() {
        FleetConfig config = FleetConfig.from(valid());
        assertEquals("127.0.0.1:9092", config.bootstrapServers());
        assertEquals(FleetConfig.StoreKind.FILESYSTEM, config.store());
        assertEquals(8080, config.httpPort());
        assertEquals(6, config.taskMaxAttempts());
        assertTrue(config.createTopics());
    }

    @Test
    void shouldNameEveryInvalidKeyTogether() {
        Map<String, String> environment = valid();
        environment.remove("CHERRYQ_KAFKA_BOOTSTRAP_SERVERS");
        environment.put("CHERRYQ_HTTP_PORT", "eighty");
        environment.put("CHERRYQ_TASK_MAX_ATTEMPTS", "0");
        environment.put("CHERRYQ_STORE", "tape");
        ConfigException error = assertThrows(ConfigException.class, () -> FleetConfig.from(environment));
        String message = error.getMessage();
        assertTrue(message.contains("CHERRYQ_KAFKA_BOOTSTRAP_SERVERS: required"), message);
        assertTrue(message.contains("CHERRYQ_HTTP_PORT: 'eighty' is not an integer"), message);
        assertTrue(message.contains("CHERRYQ_TASK_MAX_ATTEMPTS: 0 is outside 1..100"), message);
        assertTrue(message.contains("CHERRYQ_STORE: 'tape' is not one of [filesystem, s3]"), message);
        assertEquals(4, error.problems().size(), message);
    }

    @Test
    void shouldRequireTheSettingsOfTheChosenStore() {
        Map<String, String> environment = valid();
        environment.put("CHERRYQ_STORE", "s3");
        environment.put("CHERRYQ_S3_ENDPOINT", "minio:9000");
        ConfigException error = assertThrows(ConfigException.class, () -> FleetConfig.from(environment));
        assertTrue(error.getMessage().contains("CHERRYQ_S3_BUCKET: required with CHERRYQ_STORE=s3"), error.getMessage());
        assertTrue(error.getMessage().contains("CHERRYQ_S3_ENDPOINT: 'minio:9000' is not an http(s) URL"),
                error.getMessage());
    }

    @Test
    void shouldRefuseTheStoresOwnBucketAsAnInputBucket() {
        Map<String, String> environment = valid();
        environment.put("CHERRYQ_STORE", "s3");
        environment.put("CHERRYQ_S3_BUCKET", "fleet");
        environment.put("CHERRYQ_ALLOWED_BUCKETS", "models,fleet");
        ConfigException error = assertThrows(ConfigException.class, () -> FleetConfig.from(environment));
        assertTrue(error.getMessage().contains("CHERRYQ_ALLOWED_BUCKETS: must not include the store's bucket 'fleet'"),
                error.getMessage());
        environment.put("CHERRYQ_ALLOWED_BUCKETS", "models");
        assertEquals(java.util.List.of("models"), FleetConfig.from(environment).allowedBuckets());
    }

    @Test
    void shouldRefuseAnUnknownSettingSoThatATypoIsNotIgnored() {
        Map<String, String> environment = valid();
        environment.put("CHERRYQ_HTTP_PROT", "9000");
        ConfigException error = assertThrows(ConfigException.class, () -> FleetConfig.from(environment));
        assertTrue(error.getMessage().contains("CHERRYQ_HTTP_PROT: unknown setting"), error.getMessage());
    }

    @Test
    void shouldPassKafkaSecuritySettingsThroughAndRedactSecretsInTheDescription() {
        Map<String, String> environment = valid();
        environment.put("CHERRYQ_KAFKA_PROPERTY_SECURITY_PROTOCOL", "SASL_SSL");
        environment.put("CHERRYQ_KAFKA_PROPERTY_SASL_JAAS_CONFIG", "org.example.Login password=\"hunter2\";");
        environment.put("CHERRYQ_S3_SECRET_ACCESS_KEY", "s3-secret-value");
        environment.put("CHERRYQ_GATEWAY_TOKEN", "gateway-secret-value");
        FleetConfig config = FleetConfig.from(environment);
        assertEquals("SASL_SSL", config.kafkaProperties().get("security.protocol"));
        assertEquals("org.example.Login password=\"hunter2\";", config.kafkaProperties().get("sasl.jaas.config"));
        String described = config.describe(environment);
        assertTrue(described.contains("security.protocol=SASL_SSL"), described);
        for (String secret : new String[] {"hunter2", "s3-secret-value", "gateway-secret-value"}) {
            assertFalse(described.contains(secret), "secret in: " + described);
        }
        assertTrue(described.contains("CHERRYQ_GATEWAY_TOKEN=<redacted>"), described);
    }
}
