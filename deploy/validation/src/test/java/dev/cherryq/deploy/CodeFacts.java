package dev.cherryq.deploy;

import dev.cherryq.fleet.config.ConfigKey;
import dev.cherryq.fleet.config.FleetConfig;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.fleet.kafka.Topics;
import dev.cherryq.fleet.metrics.FleetMetrics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the manifests must agree with, read from the code: topics, consumer groups, metrics, config keys. */
final class CodeFacts {

    /** The services `cherryq serve` runs (the gateway also runs the status folder). */
    static final List<String> SERVICES = List.of("gateway", "planner", "scorer", "selector", "trainer", "evaluator");
    /** Metrics alerts may use that no CherryQ service exports (kube-state-metrics: for pods that do not run). */
    static final Set<String> EXTERNAL_METRICS = Set.of("kube_deployment_spec_replicas",
            "kube_deployment_status_replicas_ready");

    private CodeFacts() {}

    static Path repository() {
        return Path.of(System.getProperty("cherryq.repository", "../..")).toAbsolutePath().normalize();
    }

    /** Service of a consumer group "cherryq-<stage>[-suffix]", or null for topics no stage consumes. */
    static String owningService(TopicSpec topic) {
        String group = topic.consumerGroup();
        if (!group.startsWith("cherryq-")) {
            return null;
        }
        String stage = group.substring("cherryq-".length()).split("-")[0];
        return stage;
    }

    /** Per service, the topics it consumes as a group, from {@link Topics#ALL}. */
    static Map<String, List<TopicSpec>> consumedTopics() {
        Map<String, List<TopicSpec>> byService = new LinkedHashMap<>();
        for (String service : SERVICES) {
            byService.put(service, Topics.ALL.stream().filter(t -> service.equals(owningService(t))).toList());
        }
        return byService;
    }

    /** Names of the secret settings (never in a ConfigMap or a literal value). */
    static Set<String> secretKeys() {
        Set<String> names = new TreeSet<>();
        for (ConfigKey<?> key : FleetConfig.KEYS) {
            if (key.secret()) {
                names.add(key.name());
            }
        }
        return names;
    }

    /** Every series name a running service exposes on /metrics: counters with _total, histograms with _bucket... */
    static Set<String> exportedSeries() {
        FleetMetrics metrics = new FleetMetrics();
        metrics.tasksReceived.labelValues("scorer").inc();
        metrics.tasksCompleted.labelValues("scorer").inc();
        metrics.tasksFailed.labelValues("scorer", "x").inc();
        metrics.tasksRetried.labelValues("scorer").inc();
        metrics.tasksDeduplicated.labelValues("scorer").inc();
        metrics.taskDuration.labelValues("scorer").observe(1);
        metrics.tasksInFlight.labelValues("scorer").set(1);
        metrics.tokens.labelValues("scorer").inc();
        metrics.tokensPerSecond.labelValues("scorer").set(1);
        metrics.consumerLag.labelValues("scorer", "t").set(1);
        metrics.deadLetters.labelValues("scorer", "x").inc();
        metrics.jobs.labelValues("completed").set(1);
        metrics.gatewayRejected.labelValues("x").inc();
        Set<String> names = new TreeSet<>();
        Matcher line = Pattern.compile("(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]")
                .matcher(new String(metrics.scrape(), StandardCharsets.UTF_8));
        while (line.find()) {
            names.add(line.group(1));
        }
        return names;
    }

    /** Metric names in a PromQL expression (identifiers followed by a selector, range or the end of a term). */
    static Set<String> metricNames(String promql) {
        Set<String> names = new TreeSet<>();
        Matcher matcher = Pattern.compile("\\b((?:cherryq|kube)_[a-zA-Z0-9_]+)\\b").matcher(promql);
        while (matcher.find()) {
            names.add(matcher.group(1));
        }
        return names;
    }
}
