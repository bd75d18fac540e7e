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
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.launcher.WorkerProcess;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * deploy/ as {@code kubectl apply -k deploy/overlays/<cpu|gpu>} would apply it: built-in kinds parse into fabric8's
 * typed Kubernetes models with no unknown field, and every value the code also knows (topics, consumer groups,
 * partitions, ports, probe paths, settings, metric names) agrees with the code's constants.
 */
class KubernetesManifestsTest {

    private static final Map<String, Class<? extends HasMetadata>> TYPED = Map.of(
            "Deployment", Deployment.class, "ServiceAccount", ServiceAccount.class, "Service", Service.class,
            "ConfigMap", ConfigMap.class, "Namespace", Namespace.class, "PodDisruptionBudget", PodDisruptionBudget.class,
            "Ingress", Ingress.class);
    /** Custom resources the deployment needs, with their operators' API versions. */
    private static final Map<String, String> CUSTOM = Map.of("KafkaTopic", "kafka.strimzi.io/v1beta2",
            "ScaledObject", "keda.sh/v1alpha1", "PodMonitor", "monitoring.coreos.com/v1",
            "PrometheusRule", "monitoring.coreos.com/v1");
    private static final List<String> WORKERS = List.of("planner", "scorer", "selector", "trainer", "evaluator");
    private static final List<String> GPU_WORKERS = List.of("scorer", "trainer", "evaluator");

    private static List<ObjectNode> overlay(String name) {
        return Kustomize.build(CodeFacts.repository().resolve("deploy/overlays").resolve(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void shouldParseEveryResourceIntoItsTypedModelWithNoUnknownField(String overlay) throws Exception {
        List<ObjectNode> resources = overlay(overlay);
        for (ObjectNode resource : resources) {
            String kind = resource.path("kind").asText();
            String name = kind + "/" + resource.path("metadata").path("name").asText();
            if (TYPED.containsKey(kind)) {
                HasMetadata typed = Kustomize.JSON.treeToValue(resource, TYPED.get(kind));
                List<String> unknown = new ArrayList<>();
                unknownFields(typed, name, unknown, new IdentityHashMap<>());
                assertTrue(unknown.isEmpty(), "fields the Kubernetes API does not have: " + unknown);
                assertEquals(resource.path("apiVersion").asText(), typed.getApiVersion(), name);
            } else {
                assertEquals(CUSTOM.get(kind), resource.path("apiVersion").asText(), name + ": unexpected kind or API");
            }
            if (!kind.equals("Namespace")) {
                assertEquals("cherryq", resource.path("metadata").path("namespace").asText(), name + " namespace");
            }
        }
        Set<String> kinds = resources.stream().map(r -> r.path("kind").asText()).collect(Collectors.toSet());
        assertTrue(kinds.containsAll(CUSTOM.keySet()), "custom resources present: " + kinds);
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void shouldScaleEveryWorkerStageOnTheLagOfTheTopicsItsCodeConsumes(String overlay) {
        List<ObjectNode> resources = overlay(overlay);
        String bootstrap = Kustomize.named(resources, "ConfigMap", "cherryq-config").at("/data")
                .path(FleetConfig.BOOTSTRAP_SERVERS.name()).asText();
        Map<String, List<TopicSpec>> consumed = CodeFacts.consumedTopics();
        for (String stage : WORKERS) {
            ObjectNode deployment = Kustomize.named(resources, "Deployment", "cherryq-" + stage);
            assertEquals(stage, deployment.at("/spec/template/spec/containers/0/args/0").asText(), stage + " args");
            ObjectNode scaled = Kustomize.named(resources, "ScaledObject", "cherryq-" + stage);
            assertEquals("cherryq-" + stage, scaled.at("/spec/scaleTargetRef/name").asText());
            Set<String> triggers = new TreeSet<>();
            for (JsonNode trigger : scaled.at("/spec/triggers")) {
                assertEquals("kafka", trigger.path("type").asText());
                JsonNode metadata = trigger.path("metadata");
                assertEquals(bootstrap, metadata.path("bootstrapServers").asText(), stage + ": KEDA's broker is the services'");
                triggers.add(metadata.path("topic").asText() + " as " + metadata.path("consumerGroup").asText());
                TopicSpec topic = Topics.ALL.stream().filter(t -> t.name().equals(metadata.path("topic").asText()))
                        .findFirst().orElseThrow(() -> new AssertionError("unknown topic " + metadata.path("topic")));
                int max = scaled.at("/spec/maxReplicaCount").asInt();
                assertTrue(max <= topic.partitions(), stage + ": maxReplicaCount " + max + " exceeds the "
                        + topic.partitions() + " partitions of " + topic.name() + " (extra pods would get none)");
                assertTrue(Integer.parseInt(metadata.path("lagThreshold").asText()) >= 1, stage + " lagThreshold");
            }
            Set<String> expected = consumed.get(stage).stream().map(t -> t.name() + " as " + t.consumerGroup())
                    .collect(Collectors.toCollection(TreeSet::new));
            assertFalse(expected.isEmpty(), stage + " consumes something");
            assertEquals(expected, triggers, stage + ": KEDA watches exactly the topics and groups the code consumes");
            assertTrue(scaled.at("/spec/cooldownPeriod").asInt() >= 300, stage + ": GPU pods start slowly");
        }
        assertTrue(Kustomize.ofKind(resources, "ScaledObject").stream()
                .noneMatch(s -> s.at("/spec/scaleTargetRef/name").asText().equals("cherryq-gateway")),
                "the gateway has fixed replicas (every gateway reads the whole status topic)");
        assertEquals("gateway", Kustomize.named(resources, "Deployment", "cherryq-gateway")
                .at("/spec/template/spec/containers/0/args/0").asText());
    }

    @Test
    void shouldDeclareEveryTopicOfTheCodeWithItsPartitionsAndRetention() {
        List<ObjectNode> topics = Kustomize.ofKind(overlay("cpu"), "KafkaTopic");
        assertEquals(Topics.ALL.size(), topics.size());
        for (TopicSpec spec : Topics.ALL) {
            ObjectNode topic = topics.stream().filter(t -> t.at("/spec/topicName").asText().equals(spec.name()))
                    .findFirst().orElseThrow(() -> new AssertionError("no KafkaTopic for " + spec.name()));
            assertEquals(spec.partitions(), topic.at("/spec/partitions").asInt(), spec.name() + " partitions");
            assertEquals(spec.compacted() ? "compact" : "delete", topic.at("/spec/config/cleanup.policy").asText(),
                    spec.name());
            if (!spec.compacted()) {
                assertEquals(spec.retentionMs(), Long.parseLong(topic.at("/spec/config/retention.ms").asText()), spec.name());
            }
            assertEquals("cherryq-kafka", topic.at("/metadata/labels/strimzi.io~1cluster").asText());
        }
        ObjectNode config = Kustomize.named(overlay("cpu"), "ConfigMap", "cherryq-config");
        assertEquals("false", config.at("/data/" + FleetConfig.CREATE_TOPICS.name()).asText(),
                "services must not create topics Strimzi owns");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void shouldConfigureEveryServiceWithSettingsTheCodeAccepts(String overlay) {
        List<ObjectNode> resources = overlay(overlay);
        Map<String, String> configMap = new HashMap<>();
        Kustomize.named(resources, "ConfigMap", "cherryq-config").path("data").fields()
                .forEachRemaining(e -> configMap.put(e.getKey(), e.getValue().asText()));
        for (String secret : CodeFacts.secretKeys()) {
            assertFalse(configMap.containsKey(secret), secret + " is a secret: it belongs in the Secret cherryq-secrets");
        }
        for (String service : CodeFacts.SERVICES) {
            Deployment deployment = typed(Kustomize.named(resources, "Deployment", "cherryq-" + service), Deployment.class);
            Container container = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
            Map<String, String> environment = new HashMap<>();
            boolean secretsWired = false;
            for (EnvFromSource source : container.getEnvFrom()) {
                if (source.getConfigMapRef() != null) {
                    assertEquals("cherryq-config", source.getConfigMapRef().getName());
                    environment.putAll(configMap);
                }
                if (source.getSecretRef() != null) {
                    assertEquals("cherryq-secrets", source.getSecretRef().getName());
                    if (service.equals("gateway")) { // its token: the gateway refuses to serve the pod's address without
                        assertFalse(Boolean.TRUE.equals(source.getSecretRef().getOptional()),
                                "the gateway's Secret is required");
                    }
                    secretsWired = true;
                }
            }
            assertTrue(secretsWired, service + " reads the Secret cherryq-secrets");
            for (EnvVar variable : container.getEnv()) {
                assertFalse(CodeFacts.secretKeys().contains(variable.getName()) && variable.getValue() != null,
                        service + ": " + variable.getName() + " must come from the Secret, not a literal");
                environment.put(variable.getName(), variable.getValue() == null ? "from-secret" : variable.getValue());
            }
            // what the service itself does at start-up: parse and validate every CHERRYQ_ setting
            try {
                FleetConfig config = FleetConfig.from(environment);
                assertEquals(config.httpPort(), container.getPorts().get(0).getContainerPort(), service + " port");
            } catch (ConfigException e) {
                fail(service + " would exit at start-up: " + e.getMessage());
            }
            assertEquals(WorkerProcess.LIGHT_STAGES.contains(service) ? WorkerProcess.LIGHT_STAGE_JVM_OPTION : null,
                    environment.get("JDK_JAVA_OPTIONS"), service + ": the JVM options its local worker gets");
            assertEquals("http", container.getPorts().get(0).getName());
            assertEquals(ServiceHost.HEALTH_PATH, container.getLivenessProbe().getHttpGet().getPath(), service);
            assertEquals(ServiceHost.HEALTH_PATH, container.getStartupProbe().getHttpGet().getPath(), service);
            assertEquals(ServiceHost.READY_PATH, container.getReadinessProbe().getHttpGet().getPath(), service);
            assertEquals("http", container.getReadinessProbe().getHttpGet().getPort().getStrVal(), service);
            assertTrue(container.getResources().getRequests().containsKey("memory"), service + " memory request");
            assertTrue(container.getResources().getLimits().containsKey("memory"), service + " memory limit");
            assertTrue(deployment.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot(), service);
            assertEquals("cherryq-" + service, deployment.getSpec().getTemplate().getSpec().getServiceAccountName());
            Kustomize.named(resources, "ServiceAccount", "cherryq-" + service);
            PodDisruptionBudget budget = typed(Kustomize.named(resources, "PodDisruptionBudget", "cherryq-" + service),
                    PodDisruptionBudget.class);
            assertEquals(deployment.getSpec().getSelector().getMatchLabels(), budget.getSpec().getSelector().getMatchLabels());
        }
    }

    @Test
    void shouldExposeTheGatewayAndScrapeEveryPodOnItsMetricsPath() {
        List<ObjectNode> resources = overlay("cpu");
        Service service = typed(Kustomize.named(resources, "Service", "cherryq-gateway"), Service.class);
        assertEquals("http", service.getSpec().getPorts().get(0).getTargetPort().getStrVal());
        Ingress ingress = typed(Kustomize.named(resources, "Ingress", "cherryq-gateway"), Ingress.class);
        assertEquals("cherryq-gateway", ingress.getSpec().getRules().get(0).getHttp().getPaths().get(0).getBackend()
                .getService().getName());
        ObjectNode monitor = Kustomize.named(resources, "PodMonitor", "cherryq");
        JsonNode endpoint = monitor.at("/spec/podMetricsEndpoints/0");
        assertEquals(ServiceHost.METRICS_PATH, endpoint.path("path").asText());
        assertEquals("http", endpoint.path("port").asText());
        for (String name : CodeFacts.SERVICES) {
            ObjectNode deployment = Kustomize.named(resources, "Deployment", "cherryq-" + name);
            JsonNode podLabels = deployment.at("/spec/template/metadata/labels");
            monitor.at("/spec/selector/matchLabels").fields().forEachRemaining(label -> assertEquals(
                    label.getValue().asText(), podLabels.path(label.getKey()).asText(), name + " is scraped"));
        }
    }

    @Test
    void shouldAlertAndChartOnlyMetricsTheServicesExport() {
        List<ObjectNode> resources = overlay("cpu");
        Set<String> exported = CodeFacts.exportedSeries();
        List<String> expressions = new ArrayList<>();
        Set<String> alerts = new TreeSet<>();
        for (JsonNode rule : Kustomize.named(resources, "PrometheusRule", "cherryq").at("/spec/groups/0/rules")) {
            alerts.add(rule.path("alert").asText());
            expressions.add(rule.path("expr").asText());
        }
        assertEquals(Set.of("CherryqConsumerLagGrowing", "CherryqDeadLetters", "CherryqJobFailureRate",
                "CherryqStageNoReadyPods"), alerts);
        ObjectNode dashboardMap = Kustomize.named(resources, "ConfigMap", "cherryq-grafana-dashboard");
        assertEquals("1", dashboardMap.at("/metadata/labels/grafana_dashboard").asText());
        JsonNode dashboard = read(dashboardMap.at("/data/cherryq-fleet.json").asText());
        List<String> titles = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            titles.add(panel.path("title").asText());
            for (JsonNode target : panel.path("targets")) {
                expressions.add(target.path("expr").asText());
            }
        }
        for (String wanted : List.of("Tasks completed", "Task duration p50", "Task duration p95", "Consumer lag",
                "Tasks in flight", "Jobs by state", "Dead letters")) {
            assertTrue(titles.stream().anyMatch(t -> t.startsWith(wanted)), "dashboard panel " + wanted + ": " + titles);
        }
        for (String expression : expressions) {
            Set<String> names = CodeFacts.metricNames(expression);
            assertFalse(names.isEmpty(), "no metric in " + expression);
            for (String name : names) {
                assertTrue(exported.contains(name) || CodeFacts.EXTERNAL_METRICS.contains(name),
                        name + " (in " + expression.strip() + ") is not exported by FleetMetrics; exported: " + exported);
            }
        }
    }

    @Test
    void shouldGiveTheGpuStagesOneGpuEachOnGpuNodesAndNothingElse() {
        List<ObjectNode> gpu = overlay("gpu");
        List<ObjectNode> cpu = overlay("cpu");
        for (String service : CodeFacts.SERVICES) {
            Deployment onGpu = typed(Kustomize.named(gpu, "Deployment", "cherryq-" + service), Deployment.class);
            Container container = onGpu.getSpec().getTemplate().getSpec().getContainers().get(0);
            assertTrue(container.getImage().contains("cherryq-cuda"), service + " runs the CUDA image: " + container.getImage());
            Quantity gpus = container.getResources().getLimits().get("nvidia.com/gpu");
            if (GPU_WORKERS.contains(service)) {
                assertEquals("1", gpus == null ? null : gpus.toString(), service + " GPU limit");
                assertEquals("true", onGpu.getSpec().getTemplate().getSpec().getNodeSelector().get("nvidia.com/gpu.present"));
                assertTrue(onGpu.getSpec().getTemplate().getSpec().getTolerations().stream()
                        .anyMatch(t -> t.getKey().equals("nvidia.com/gpu")), service + " tolerates GPU nodes");
            } else {
                assertEquals(null, gpus, service + " needs no GPU");
            }
            Container onCpu = typed(Kustomize.named(cpu, "Deployment", "cherryq-" + service), Deployment.class)
                    .getSpec().getTemplate().getSpec().getContainers().get(0);
            assertFalse(onCpu.getResources().getLimits().containsKey("nvidia.com/gpu"), service + " on cpu");
            assertFalse(onCpu.getImage().contains("cuda"), service + " on cpu: " + onCpu.getImage());
        }
    }

    private static <T> T typed(ObjectNode resource, Class<T> type) {
        try {
            return Kustomize.JSON.treeToValue(resource, type);
        } catch (Exception e) {
            throw new AssertionError(resource.path("kind").asText() + " does not parse: " + e.getMessage(), e);
        }
    }

    private static JsonNode read(String json) {
        try {
            return Kustomize.JSON.readTree(json);
        } catch (Exception e) {
            throw new AssertionError("dashboard JSON does not parse: " + e.getMessage(), e);
        }
    }

    /** Walks fabric8 model objects; any non-empty additionalProperties is a field the Kubernetes API lacks. */
    private static void unknownFields(Object node, String path, List<String> unknown, Map<Object, Boolean> seen)
            throws Exception {
        if (node == null || seen.containsKey(node)) {
            return;
        }
        if (node instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                unknownFields(list.get(i), path + "[" + i + "]", unknown, seen);
            }
            return;
        }
        if (node instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                unknownFields(entry.getValue(), path + "." + entry.getKey(), unknown, seen);
            }
            return;
        }
        if (!node.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
            return;
        }
        seen.put(node, true);
        for (Method getter : node.getClass().getMethods()) {
            if (getter.getParameterCount() != 0 || !getter.getName().startsWith("get")
                    || getter.getDeclaringClass() == Object.class) {
                continue;
            }
            Object value = getter.invoke(node);
            if (getter.getName().equals("getAdditionalProperties")) {
                if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    unknown.add(path + ": " + extra.keySet());
                }
            } else {
                unknownFields(value, path + "." + getter.getName().substring(3), unknown, seen);
            }
        }
    }
}
