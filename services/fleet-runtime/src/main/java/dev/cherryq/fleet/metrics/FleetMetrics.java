package dev.cherryq.fleet.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;

/**
 * The fleet's Prometheus metrics (Prometheus Java client 1.x), one registry per process. Names are the constants
 * below; deploy/ alerts and dashboards refer to them, and docs/ARCHITECTURE.md lists them. Every stage metric has
 * a {@code stage} label, so a process that runs several stages (embedded mode) reports each one.
 */
public final class FleetMetrics {

    /** Counter: tasks a stage consumer received (including ones that later failed). Labels: stage. */
    public static final String TASKS_RECEIVED = "cherryq_tasks_received";
    /** Counter: tasks whose output is durable and whose offset is committed. Labels: stage. */
    public static final String TASKS_COMPLETED = "cherryq_tasks_completed";
    /** Counter: tasks failed for good (dead-lettered or failing their job). Labels: stage, code. */
    public static final String TASKS_FAILED = "cherryq_tasks_failed";
    /** Counter: retriable failures that were retried. Labels: stage. */
    public static final String TASKS_RETRIED = "cherryq_tasks_retried";
    /** Counter: duplicate tasks whose output already existed, so no compute ran. Labels: stage. */
    public static final String TASKS_DEDUPLICATED = "cherryq_tasks_deduplicated";
    /** Histogram: seconds from receiving a task to committing it. Labels: stage. */
    public static final String TASK_DURATION = "cherryq_task_duration_seconds";
    /** Gauge: tasks being processed now. Labels: stage. */
    public static final String TASKS_IN_FLIGHT = "cherryq_tasks_in_flight";
    /** Counter: tokens processed by compute (scoring, training, evaluation). Labels: stage. */
    public static final String TOKENS = "cherryq_tokens_processed";
    /** Gauge: tokens per second of the last completed task. Labels: stage. */
    public static final String TOKENS_PER_SECOND = "cherryq_tokens_per_second";
    /** Gauge: records behind the end of the consumed topic, summed over assigned partitions. Labels: stage, topic. */
    public static final String CONSUMER_LAG = "cherryq_consumer_lag_records";
    /** Counter: messages sent to the dead-letter topic. Labels: stage, code. */
    public static final String DEAD_LETTERS = "cherryq_dead_letters";
    /** Gauge: jobs known to this gateway, by state. Labels: state. */
    public static final String JOBS = "cherryq_jobs";
    /** Counter: HTTP requests the gateway refused. Labels: reason. */
    public static final String GATEWAY_REJECTED = "cherryq_gateway_rejected_requests";

    /** All metric names (without the suffixes Prometheus adds, such as _total, _bucket). */
    public static final List<String> NAMES = List.of(TASKS_RECEIVED, TASKS_COMPLETED, TASKS_FAILED, TASKS_RETRIED,
            TASKS_DEDUPLICATED, TASK_DURATION, TASKS_IN_FLIGHT, TOKENS, TOKENS_PER_SECOND, CONSUMER_LAG, DEAD_LETTERS,
            JOBS, GATEWAY_REJECTED);

    private final PrometheusRegistry registry = new PrometheusRegistry();
    public final Counter tasksReceived;
    public final Counter tasksCompleted;
    public final Counter tasksFailed;
    public final Counter tasksRetried;
    public final Counter tasksDeduplicated;
    public final Histogram taskDuration;
    public final Gauge tasksInFlight;
    public final Counter tokens;
    public final Gauge tokensPerSecond;
    public final Gauge consumerLag;
    public final Counter deadLetters;
    public final Gauge jobs;
    public final Counter gatewayRejected;

    public FleetMetrics() {
        tasksReceived = Counter.builder().name(TASKS_RECEIVED).help("tasks received by a stage consumer")
                .labelNames("stage").register(registry);
        tasksCompleted = Counter.builder().name(TASKS_COMPLETED).help("tasks completed: output durable, offset committed")
                .labelNames("stage").register(registry);
        tasksFailed = Counter.builder().name(TASKS_FAILED).help("tasks failed for good").labelNames("stage", "code")
                .register(registry);
        tasksRetried = Counter.builder().name(TASKS_RETRIED).help("retriable task failures that were retried")
                .labelNames("stage").register(registry);
        tasksDeduplicated = Counter.builder().name(TASKS_DEDUPLICATED)
                .help("duplicate tasks whose output already existed").labelNames("stage").register(registry);
        taskDuration = Histogram.builder().name(TASK_DURATION).help("seconds from receiving a task to committing it")
                .labelNames("stage").classicUpperBounds(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
                .register(registry);
        tasksInFlight = Gauge.builder().name(TASKS_IN_FLIGHT).help("tasks being processed").labelNames("stage")
                .register(registry);
        tokens = Counter.builder().name(TOKENS).help("tokens processed by compute").labelNames("stage")
                .register(registry);
        tokensPerSecond = Gauge.builder().name(TOKENS_PER_SECOND).help("tokens per second of the last task")
                .labelNames("stage").register(registry);
        consumerLag = Gauge.builder().name(CONSUMER_LAG).help("records behind the end of the consumed topic")
                .labelNames("stage", "topic").register(registry);
        deadLetters = Counter.builder().name(DEAD_LETTERS).help("messages sent to the dead-letter topic")
                .labelNames("stage", "code").register(registry);
        jobs = Gauge.builder().name(JOBS).help("jobs known to the gateway, by state").labelNames("state")
                .register(registry);
        gatewayRejected = Counter.builder().name(GATEWAY_REJECTED).help("HTTP requests the gateway refused")
                .labelNames("reason").register(registry);
        JvmMetrics.builder().register(registry);
    }

    /** The Prometheus text exposition of everything registered. */
    public byte[] scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape(),
                    io.prometheus.metrics.config.EscapingScheme.UNDERSCORE_ESCAPING);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    public static String contentType() {
        return PrometheusTextFormatWriter.CONTENT_TYPE;
    }
}
