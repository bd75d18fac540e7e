package dev.cherryq.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.fleet.ServiceHost;
import dev.cherryq.fleet.config.ConfigException;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.launcher.WorkerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * docker/: the Dockerfiles (pinned bases, non-root, OCI labels, no secrets, one `serve` entrypoint) and the compose
 * stack (every service, health checks and start order, settings the code accepts, Prometheus scraping every
 * service, Grafana given the dashboard deploy/ ships). No Docker engine here: these are the checks that can run.
 */
class DockerFilesTest {

    private static final Path DOCKER = CodeFacts.repository().resolve("docker");
    private static final Pattern FROM = Pattern.compile("(?im)^FROM\\s+(\\S+)(?:\\s+AS\\s+(\\S+))?\\s*$");
    private static final Pattern SECRET_NAME = Pattern.compile("(?i)(password|secret|token|api_?key|access_?key)");

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"Dockerfile", "Dockerfile.cuda"})
    void shouldPinBasesRunAsNonRootLabelTheImageAndHoldNoSecrets(String name) {
        String dockerfile = read(DOCKER.resolve(name));
        Matcher from = FROM.matcher(dockerfile);
        Set<String> stages = new TreeSet<>();
        int lastFrom = -1;
        while (from.find()) {
            String image = from.group(1);
            lastFrom = from.start();
            if (!stages.contains(image)) {
                assertTrue(image.matches("[a-z0-9./_-]+:[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*(@sha256:[0-9a-f]{64})?"),
                        name + ": base image " + image + " is not pinned to a version");
                assertFalse(image.endsWith(":latest"), name + ": " + image);
            }
            if (from.group(2) != null) {
                stages.add(from.group(2));
            }
        }
        assertTrue(lastFrom >= 0, name + " has a FROM");
        String runtime = dockerfile.substring(lastFrom);
        Matcher user = Pattern.compile("(?m)^USER\\s+(\\S+)").matcher(runtime);
        String lastUser = null;
        while (user.find()) {
            lastUser = user.group(1);
        }
        assertTrue(lastUser != null && !lastUser.matches("(?i)(root|0)(:.*)?"), name + ": runtime user " + lastUser);
        assertTrue(lastUser.matches("[1-9][0-9]*:[1-9][0-9]*"), name + ": numeric uid:gid for runAsNonRoot: " + lastUser);
        for (String label : List.of("org.opencontainers.image.title", "org.opencontainers.image.version",
                "org.opencontainers.image.revision", "org.opencontainers.image.source", "org.opencontainers.image.licenses")) {
            assertTrue(runtime.contains(label + "="), name + " labels " + label);
        }
        assertTrue(runtime.contains("ENTRYPOINT [\"java\", \"-jar\", \"/opt/cherryq/cherryq.jar\", \"serve\"]"), name);
        assertTrue(runtime.contains("DJL_OFFLINE=true") && runtime.contains("OPT_OUT_TRACKING=true"),
                name + ": DJL must never call home");
        assertTrue(runtime.contains("CHERRYQ_HTTP_PORT=" + FleetConfig.HTTP_PORT.defaultValue()), name + " port");
        // no secret values: ENV/ARG of a secret-looking name with a value, or credentials in URLs
        Matcher assignment = Pattern.compile("(?m)^\\s*(?:ENV|ARG)?\\s*([A-Za-z_][A-Za-z0-9_]*)=(\\S*)").matcher(dockerfile);
        while (assignment.find()) {
            assertFalse(SECRET_NAME.matcher(assignment.group(1)).find() && !assignment.group(2).isEmpty(),
                    name + ": secret-looking setting " + assignment.group(1));
        }
        assertFalse(dockerfile.matches("(?s).*(AKIA[0-9A-Z]{16}|://[^/\\s:]+:[^@\\s]+@).*"), name + ": credentials");
        assertFalse(dockerfile.contains("COPY . "), name + ": copies only what the build needs");
    }

    @Test
    void shouldKeepTheBuildContextSmallAndFreeOfLocalSecretsAndCaches() {
        String ignore = read(CodeFacts.repository().resolve(".dockerignore"));
        for (String entry : List.of("**/target", "out", ".cache", ".git")) {
            assertTrue(ignore.lines().anyMatch(entry::equals), ".dockerignore lists " + entry);
        }
    }

    private static ObjectNode compose() {
        return Kustomize.readYaml(DOCKER.resolve("docker-compose.yml")).get(0);
    }

    /** ${NAME:-default} as compose resolves it with nothing set. */
    private static String withDefaults(String value) {
        return value.replaceAll("\\$\\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)}", "$1");
    }

    @Test
    void shouldRunEveryServiceWithSettingsTheCodeAcceptsAfterItsDependenciesAreHealthy() {
        JsonNode services = compose().path("services");
        for (String service : CodeFacts.SERVICES) {
            JsonNode definition = services.path(service);
            assertTrue(definition.isObject(), "compose runs " + service);
            assertEquals(service, definition.at("/command/0").asText(), service + " command");
            assertEquals("docker/Dockerfile", definition.at("/build/dockerfile").asText(), service);
            Map<String, String> environment = new HashMap<>();
            definition.path("environment").fields().forEachRemaining(e -> environment.put(e.getKey(),
                    withDefaults(e.getValue().asText())));
            try {
                FleetConfig config = FleetConfig.from(environment);
                assertEquals(FleetConfig.StoreKind.S3, config.store(), service + " uses MinIO");
                String healthcheck = String.join(" ", textList(definition.at("/healthcheck/test")));
                assertTrue(healthcheck.contains("/dev/tcp/127.0.0.1/" + config.httpPort())
                        && healthcheck.contains("GET " + ServiceHost.READY_PATH), service + " healthcheck: " + healthcheck);
                assertEquals("0.0.0.0", config.httpHost(), service + " listens beyond loopback inside its container");
            } catch (ConfigException e) {
                fail(service + " would exit at start-up: " + e.getMessage());
            }
            assertEquals(WorkerProcess.LIGHT_STAGES.contains(service) ? WorkerProcess.LIGHT_STAGE_JVM_OPTION : null,
                    environment.get("JDK_JAVA_OPTIONS"), service + ": the JVM options its local worker gets");
            assertEquals("service_healthy", definition.at("/depends_on/kafka/condition").asText(), service);
            assertEquals("service_completed_successfully", definition.at("/depends_on/minio-bucket/condition").asText());
        }
        services.fields().forEachRemaining(entry -> {
            JsonNode definition = entry.getValue();
            if (definition.has("image")) {
                String image = definition.path("image").asText();
                assertTrue(image.equals("cherryq:local") || image.matches("[a-z0-9./_-]+:[A-Za-z0-9._-]*[0-9][A-Za-z0-9._-]*"),
                        entry.getKey() + ": image " + image + " is not pinned");
            }
            boolean oneShot = entry.getKey().equals("minio-bucket");
            assertTrue(oneShot || definition.has("healthcheck"), entry.getKey() + " has a health check");
            definition.path("ports").forEach(port -> assertTrue(port.asText().startsWith("127.0.0.1:"),
                    entry.getKey() + " publishes " + port.asText() + " beyond this machine"));
        });
        assertTrue(services.has("kafka") && services.has("minio") && services.has("prometheus") && services.has("grafana"));
        assertTrue(services.at("/kafka/image").asText().startsWith("apache/kafka:"));
        assertTrue(services.at("/kafka/environment/KAFKA_PROCESS_ROLES").asText().contains("controller"), "KRaft");
        String bucketCommand = String.join(" ", textList(services.at("/minio-bucket/entrypoint")));
        String bucket = services.at("/gateway/environment/" + FleetConfig.S3_BUCKET.name()).asText();
        assertTrue(bucketCommand.contains("mc mb --ignore-existing local/" + bucket), "creates the bucket " + bucket);
    }

    @Test
    void shouldScrapeEveryServiceAndProvisionTheDashboardThatDeployShips() {
        JsonNode prometheus = Kustomize.readYaml(DOCKER.resolve("prometheus/prometheus.yml")).get(0);
        JsonNode job = prometheus.at("/scrape_configs/0");
        assertEquals(ServiceHost.METRICS_PATH, job.path("metrics_path").asText());
        Set<String> targets = new TreeSet<>();
        job.path("static_configs").forEach(c -> c.path("targets").forEach(t -> targets.add(t.asText())));
        Set<String> expected = new TreeSet<>();
        CodeFacts.SERVICES.forEach(s -> expected.add(s + ":" + FleetConfig.HTTP_PORT.defaultValue()));
        assertEquals(expected, targets);

        JsonNode grafana = compose().at("/services/grafana");
        String dashboards = Kustomize.readYaml(DOCKER.resolve("grafana/provisioning/dashboards/cherryq.yml")).get(0)
                .at("/providers/0/options/path").asText();
        List<String> mounts = textList(grafana.path("volumes"));
        String mount = mounts.stream().filter(m -> m.split(":")[1].equals(dashboards)).findFirst()
                .orElseThrow(() -> new AssertionError("grafana mounts nothing at " + dashboards + ": " + mounts));
        Path hostFolder = DOCKER.resolve(mount.split(":")[0]).normalize();
        assertTrue(Files.exists(hostFolder.resolve("cherryq-fleet.json")), hostFolder + " holds the dashboard");
        assertEquals(CodeFacts.repository().resolve("deploy/base/monitoring/dashboards"), hostFolder,
                "compose and Kubernetes show the same dashboard");
    }

    private static List<String> textList(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(v -> values.add(v.asText()));
        return values;
    }
}
