package dev.cherryq.fleet.config;

/**
 * The work one job may ask of the fleet, set by the operator ({@link FleetConfig#MAX_JOB_TASKS},
 * {@link FleetConfig#MAX_JOB_MTOKENS}, {@link FleetConfig#MAX_INPUT_MIB}). The gateway refuses a request beyond them
 * with 400, and the planner fails one that reaches it by another way.
 *
 * @param maxTasks tasks one job may fan out to
 * @param maxTrainingTokens tokens one job's training may process
 * @param maxInputBytes bytes of one input text
 */
public record JobLimits(int maxTasks, long maxTrainingTokens, long maxInputBytes) {

    static final int DEFAULT_MAX_TASKS = 10_000;
    static final int DEFAULT_MAX_MTOKENS = 10_000;
    static final int DEFAULT_MAX_INPUT_MIB = 1024;

    /** The defaults of the three settings. */
    public static final JobLimits DEFAULTS = of(DEFAULT_MAX_TASKS, DEFAULT_MAX_MTOKENS, DEFAULT_MAX_INPUT_MIB);

    /** From the settings' units: tasks, millions of tokens, MiB. */
    static JobLimits of(int maxTasks, int maxMillionTokens, int maxInputMib) {
        return new JobLimits(maxTasks, maxMillionTokens * 1_000_000L, maxInputMib * (1L << 20));
    }
}
