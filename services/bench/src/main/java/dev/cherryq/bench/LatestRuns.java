package dev.cherryq.bench;

/**
 * The whole-job measurements of the last run of each kind, which the report quotes beside the statistics over runs:
 * the main command's job on both sides, the separate-process fleet, the scaling pair, the soak and the block-wise
 * section's runs. Null: not measured in this invocation.
 */
final class LatestRuns {

    private MainJobBench.Side mainInProcess;
    private MainJobBench.Side mainEmbedded;
    private FleetBench.ProcessRun processes;
    private FleetBench.ProcessRun scaleOne;
    private FleetBench.ProcessRun scaleTwo;
    private FleetBench.ProcessRun soak;
    private BlockwiseBench.Result blockwise;

    MainJobBench.Side mainInProcess() {
        return mainInProcess;
    }

    void mainInProcess(MainJobBench.Side side) {
        mainInProcess = side;
    }

    MainJobBench.Side mainEmbedded() {
        return mainEmbedded;
    }

    void mainEmbedded(MainJobBench.Side side) {
        mainEmbedded = side;
    }

    /** The one-worker-per-stage process fleet on the small model. */
    FleetBench.ProcessRun processes() {
        return processes;
    }

    void processes(FleetBench.ProcessRun run) {
        processes = run;
    }

    /** Scaling on the large model: one worker of each stage. */
    FleetBench.ProcessRun scaleOne() {
        return scaleOne;
    }

    /** Scaling on the large model: two scorers and two evaluators. */
    FleetBench.ProcessRun scaleTwo() {
        return scaleTwo;
    }

    void scaling(FleetBench.ProcessRun one, FleetBench.ProcessRun two) {
        scaleOne = one;
        scaleTwo = two;
    }

    FleetBench.ProcessRun soak() {
        return soak;
    }

    void soak(FleetBench.ProcessRun run) {
        soak = run;
    }

    /** Block-wise training on the random model: end-to-end, one trainer worker, two under a budget. */
    BlockwiseBench.Result blockwise() {
        return blockwise;
    }

    void blockwise(BlockwiseBench.Result result) {
        blockwise = result;
    }
}
