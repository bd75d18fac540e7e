package dev.cherryq.fleet.job;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.qat.QatSettings;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.proto.v1.Criterion;
import dev.cherryq.proto.v1.Method;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A request's settings as core types, and the validation that runs once, in the planner, before any work: every
 * problem is named with its field (the request's JSON name) and the allowed range.
 */
public final class RequestSettings {

    private RequestSettings() {}

    /** Throws {@link InvalidInputException} listing every invalid field of a request. */
    public static void validate(QuantizationRequest request) {
        List<String> problems = new ArrayList<>();
        if (request.getModel().getUri().isBlank()) {
            problems.add("model: required");
        }
        if (request.getMethod() == Method.METHOD_UNSPECIFIED || request.getMethod() == Method.UNRECOGNIZED) {
            problems.add("method: required, one of rtn, qat, cherryq");
        }
        if (request.getBits() < 2 || request.getBits() > 8) {
            problems.add("bits: " + request.getBits() + " is out of range 2..8");
        }
        if (request.getGroupSize() == 0 || request.getGroupSize() < -1) {
            problems.add("group_size: " + request.getGroupSize() + " is invalid; use a positive size or -1 (whole row)");
        }
        if (request.getScheme() == dev.cherryq.proto.v1.QuantScheme.QUANT_SCHEME_UNSPECIFIED
                || request.getScheme() == dev.cherryq.proto.v1.QuantScheme.UNRECOGNIZED) {
            problems.add("scheme: required, sym-full or asym");
        }
        if (!(request.getCherryFraction() >= 0 && request.getCherryFraction() <= 0.5)) {
            problems.add("cherry_fraction: " + request.getCherryFraction() + " is out of range 0..0.5");
        }
        if (request.getSeqLen() < 2) {
            problems.add("seq_len: " + request.getSeqLen() + " must be at least 2");
        }
        if (request.getEval().getDataUri().isBlank()) {
            problems.add("eval_data: required (held-out text)");
        }
        if (request.getEval().getWindowsPerShard() < 1) {
            problems.add("eval_windows_per_shard: " + request.getEval().getWindowsPerShard() + " must be at least 1");
        }
        if (request.getEval().getBatchSize() < 1) {
            problems.add("eval_batch_size: must be at least 1");
        }
        for (String baseline : request.getEval().getBaselinesList()) {
            if (!baseline.equals("fp") && !baseline.equals("rtn")) {
                problems.add("baselines: '" + baseline + "' is not fp or rtn");
            }
        }
        if (scores(request)) {
            if (request.getCalibrationDataUri().isBlank()) {
                problems.add("calibration_data: required for cherryq with the impact criterion");
            }
            if (request.getCalibrationSamples() < 1) {
                problems.add("calibration_samples: " + request.getCalibrationSamples() + " must be at least 1");
            }
            if (request.getCalibrationShards() < 1 || request.getCalibrationShards() > request.getCalibrationSamples()) {
                problems.add("calibration_shards: " + request.getCalibrationShards() + " must be 1..calibration_samples");
            }
        }
        if (request.getMethod() == Method.METHOD_CHERRYQ && (request.getCriterion() == Criterion.CRITERION_UNSPECIFIED
                || request.getCriterion() == Criterion.UNRECOGNIZED)) {
            problems.add("criterion: required for cherryq, one of impact, magnitude, random");
        }
        if (trains(request)) {
            var qat = request.getQat();
            if (request.getTrainDataUri().isBlank()) {
                problems.add("train_data: required for " + methodName(request));
            }
            if (qat.getSteps() < 1) {
                problems.add("steps: " + qat.getSteps() + " must be at least 1");
            }
            if (qat.getSegmentSteps() < 1) {
                problems.add("segment_steps: " + qat.getSegmentSteps() + " must be at least 1");
            }
            if (qat.getBatchSize() < 1) {
                problems.add("batch_size: must be at least 1");
            }
            if (qat.getGradAccum() < 1) {
                problems.add("grad_accum: must be at least 1");
            }
            if (!(qat.getLearningRate() > 0)) {
                problems.add("lr: " + qat.getLearningRate() + " must be positive");
            }
        }
        if (!problems.isEmpty()) {
            throw new InvalidInputException("invalid request: " + String.join("; ", problems));
        }
    }

    public static boolean trains(QuantizationRequest request) {
        return request.getMethod() == Method.METHOD_QAT || request.getMethod() == Method.METHOD_CHERRYQ;
    }

    /** Impact scoring runs only for CherryQ with the impact criterion and a non-zero fraction. */
    public static boolean scores(QuantizationRequest request) {
        return request.getMethod() == Method.METHOD_CHERRYQ && request.getCriterion() == Criterion.CRITERION_IMPACT
                && request.getCherryFraction() > 0;
    }

    /** Cherries are selected (by any criterion) for CherryQ with a non-zero fraction. */
    public static boolean selects(QuantizationRequest request) {
        return request.getMethod() == Method.METHOD_CHERRYQ && request.getCherryFraction() > 0;
    }

    public static String methodName(QuantizationRequest request) {
        return request.getMethod().name().substring("METHOD_".length()).toLowerCase(Locale.ROOT);
    }

    public static QuantSpec quantSpec(QuantizationRequest request) {
        QuantScheme scheme = request.getScheme() == dev.cherryq.proto.v1.QuantScheme.QUANT_SCHEME_ASYM
                ? QuantScheme.ASYM : QuantScheme.SYM_FULL;
        return new QuantSpec(request.getBits(), request.getGroupSize(), scheme);
    }

    public static SelectionCriterion criterion(QuantizationRequest request) {
        return switch (request.getCriterion()) {
            case CRITERION_MAGNITUDE -> SelectionCriterion.MAGNITUDE;
            case CRITERION_RANDOM -> SelectionCriterion.RANDOM;
            default -> SelectionCriterion.IMPACT;
        };
    }

    /** The QAT settings of the in-process {@code cherryq quantize} for the same request (checkpointing aside). */
    public static QatSettings qatSettings(QuantizationRequest request) {
        var qat = request.getQat();
        double floor = qat.getFloorFraction() > 0 ? qat.getFloorFraction() : QatSettings.defaultFloor(request.getBits());
        return new QatSettings(qat.getSteps(), qat.getBatchSize(), request.getSeqLen(), qat.getGradAccum(),
                qat.getLearningRate(), qat.getWarmupFraction(), floor, qat.getWeightDecay(), qat.getGradientClip(),
                request.getSeed(), 0);
    }

    /** Number of QAT segments of a request. */
    public static int segments(QuantizationRequest request) {
        int steps = request.getQat().getSteps();
        int segment = request.getQat().getSegmentSteps();
        return (steps + segment - 1) / segment;
    }

    /** "3-bit g32 sym-full", for result tables. */
    public static String format(QuantizationRequest request) {
        QuantSpec spec = quantSpec(request);
        return spec.bits() + "-bit g" + spec.groupSize() + " " + spec.scheme().cliName();
    }
}
