package dev.cherryq.fleet.kafka;

import java.util.List;

/**
 * Every topic of the fleet, in one place (docs/ARCHITECTURE.md prints this table). Results, events and status are
 * keyed by job id, so everything one job fans in lands on one partition and one consumer, in order. Tasks are keyed
 * by job id and shard and spread over partitions by shard, so a job's shards go to different workers.
 */
public final class Topics {

    private static final long DAY_MS = 24L * 3600 * 1000;

    public static final TopicSpec REQUESTS = new TopicSpec("cherryq.v1.requests", "job id", "QuantizationRequest", 6,
            false, 7 * DAY_MS, "gateway", "cherryq-planner", "accepted requests; the planner prepares data and fans out");
    public static final TopicSpec SCORE_TASKS = new TopicSpec("cherryq.v1.score-tasks", "job id/shard", "ScoreTask", 12,
            false, 7 * DAY_MS, "planner", "cherryq-scorer", "one shard of calibration samples each");
    public static final TopicSpec SCORE_RESULTS = new TopicSpec("cherryq.v1.score-results", "job id", "ScoreResult", 6,
            false, 7 * DAY_MS, "scorer, planner", "cherryq-selector", "references to partial Fisher sums");
    public static final TopicSpec TRAIN_TASKS = new TopicSpec("cherryq.v1.train-tasks", "job id", "TrainTask", 12,
            false, 7 * DAY_MS, "selector, planner, trainer", "cherryq-trainer",
            "one QAT segment each; the trainer emits the next");
    public static final TopicSpec EVAL_TASKS = new TopicSpec("cherryq.v1.eval-tasks", "job id/variant/shard", "EvalTask",
            12, false, 7 * DAY_MS, "planner, trainer", "cherryq-evaluator", "windows of one model variant each");
    public static final TopicSpec EVAL_RESULTS = new TopicSpec("cherryq.v1.eval-results", "job id", "EvalResult", 6,
            false, 7 * DAY_MS, "evaluator", "cherryq-evaluator-fanin", "NLL sums per shard; fan-in writes the report");
    public static final TopicSpec JOB_EVENTS = new TopicSpec("cherryq.v1.job-events", "job id", "JobEvent", 6, false,
            7 * DAY_MS, "every stage", "cherryq-gateway-status", "what happened to a job; folded into job status");
    public static final TopicSpec JOB_STATUS = new TopicSpec("cherryq.v1.job-status", "job id", "JobStatus", 6, true, -1,
            "gateway (status folder)", "(none: every gateway reads it whole)", "latest status per job, compacted");
    public static final TopicSpec DEAD_LETTERS = new TopicSpec("cherryq.v1.dead-letters", "original key",
            "original bytes + error headers", 3, false, 30 * DAY_MS, "every consumer", "(operators)",
            "messages that cannot be processed, with error headers");

    public static final TopicSpec SELECT_TASKS = new TopicSpec("cherryq.v1.select-tasks", "job id/layer group",
            "SelectTask", 12, false, 7 * DAY_MS, "selector (score fan-in)", "cherryq-selector-layers",
            "one layer group each: merge its partials of every shard, select its cherries");
    public static final TopicSpec SELECT_RESULTS = new TopicSpec("cherryq.v1.select-results", "job id", "SelectResult",
            6, false, 7 * DAY_MS, "selector (layer tasks)", "cherryq-selector-fanin",
            "one layer group's cherries; the fan-in assembles the cherry set");

    public static final List<TopicSpec> ALL = List.of(REQUESTS, SCORE_TASKS, SCORE_RESULTS, TRAIN_TASKS, EVAL_TASKS,
            EVAL_RESULTS, JOB_EVENTS, JOB_STATUS, DEAD_LETTERS, SELECT_TASKS, SELECT_RESULTS);

    /** Headers on dead letters. */
    public static final String HEADER_ERROR_CODE = "cherryq.error.code";
    public static final String HEADER_ERROR_MESSAGE = "cherryq.error.message";
    public static final String HEADER_ERROR_CLASS = "cherryq.error.class";
    public static final String HEADER_SOURCE_TOPIC = "cherryq.source.topic";
    public static final String HEADER_SOURCE_PARTITION = "cherryq.source.partition";
    public static final String HEADER_SOURCE_OFFSET = "cherryq.source.offset";
    public static final String HEADER_STAGE = "cherryq.stage";
    /** The protobuf message type on every record, so a consumer can refuse the wrong type before parsing. */
    public static final String HEADER_TYPE = "cherryq.type";
    /**
     * How a record's value is encoded: absent or {@code application/x-protobuf} for binary protobuf,
     * {@value #JSON} for the proto3 JSON mapping, which a producer in any language (or kcat) can write.
     */
    public static final String HEADER_CONTENT_TYPE = "content-type";
    public static final String JSON = "application/json";

    private Topics() {}
}
