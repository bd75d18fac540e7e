package dev.cherryq.core.recipe;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.core.model.LlamaConfig;
import dev.cherryq.core.qat.QatSettings;
import dev.cherryq.core.qat.TrainableParameters;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.quant.QuantSpec;
import dev.cherryq.core.selection.SelectionCriterion;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * One quantization job's settings: the single home of their defaults and their validation. The command line
 * ({@code cherryq quantize}, {@code run}, {@code report}), the gateway's JSON body and the proto
 * {@code QuantizationRequest} all translate to and from this record, and a test holds their defaults equal.
 * Problems are reported by field name (the JSON and proto name); front ends render them in their own terms.
 *
 * <p>Defaults that change results come from measured sweeps recorded in docs/RESULTS.md ("How the defaults were
 * chosen"), with the commands that reproduce them.
 *
 * @param method how normal weights are quantized
 * @param init where training starts (qat and cherryq only)
 * @param bits bits per normal weight, 2..8
 * @param groupSize weights per group along a row, or -1 for the whole row
 * @param cherryFraction share of each row kept in full precision (cherryq only); per row max(1, round(f x columns))
 * @param calibrationSamples calibration windows for impact scoring and GPTQ
 * @param sequenceLength calibration, training and evaluation window length; 0 = min(512, the model's positions)
 * @param gptqDampening GPTQ's dampening, as a fraction of the Hessian's mean diagonal
 * @param gptqActOrder GPTQ quantizes columns in order of decreasing Hessian diagonal
 */
public record QuantizationRecipe(QuantMethod method, InitMethod init, int bits, int groupSize, QuantScheme scheme,
        SelectionCriterion criterion, double cherryFraction, int calibrationSamples, Training training,
        int sequenceLength, long seed, double gptqDampening, boolean gptqActOrder) {

    /**
     * The QAT trajectory. The CherryQ reference: AdamW (0.9, 0.95), a cosine schedule with warm-up that decays to a
     * floor (a fraction of the peak rate), gradient-norm clipping.
     *
     * @param floorFraction 0 = the paper's floor for the bit width ({@link QatSettings#defaultFloor})
     * @param validationWindows windows cut from the end of the training text, never trained on, scored at every
     *     segment boundary: the run returns its best weights on them, and never weights worse than its start; 0 = off
     * @param cherryLearningRateScale cherries' step size as a multiple of the rate (1 = the reference's)
     * @param trainable which tensors train (the reference: all; or only the linear weights)
     * @param mode the whole model at once (the paper's), or one decoder block at a time against the full-precision
     *     block's outputs ({@link TrainingMode#BLOCKWISE}; {@code loss} then applies only to the end-to-end phase)
     * @param endToEndSteps block-wise training only: steps of the end-to-end phase after the blocks, which trains
     *     only the cherries and the norms on the whole model's loss ({@link dev.cherryq.core.qat.EndToEndPhase}), with
     *     the batches, schedule shape, clipping and validation above; 0 = no phase; end-to-end training ignores it
     * @param endToEndLearningRate the phase's peak rate
     */
    public record Training(int steps, int batchSize, int gradientAccumulation, float learningRate,
            double warmupFraction, double floorFraction, float weightDecay, float gradientClip, TrainingLoss loss,
            int validationWindows, float cherryLearningRateScale, TrainableParameters trainable, TrainingMode mode,
            int endToEndSteps, float endToEndLearningRate) {

        /** The trajectory with every default as chosen (see the class comment). */
        public static final Training DEFAULTS = new Training(200, 4, 1, 2e-4f, 0.05, 0, 0f, 1.0f,
                TrainingLoss.DISTILLATION, 16, 1f, TrainableParameters.ALL, TrainingMode.END_TO_END, 0, 5e-3f);

        /** The largest multiple of the rate a cherry may step at. */
        public static final float MAX_CHERRY_LEARNING_RATE_SCALE = 1000f;

        /** The most optimizer steps of one run. */
        public static final int MAX_STEPS = 10_000_000;

        /** The largest micro-batch, and the most micro-batches per step. */
        public static final int MAX_BATCH = 65_536;

        /** The most validation windows a run may set aside. */
        public static final int MAX_VALIDATION_WINDOWS = 4096;

        public Training withSteps(int value) {
            return new Training(value, batchSize, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                    weightDecay, gradientClip, loss, validationWindows, cherryLearningRateScale, trainable, mode,
                    endToEndSteps, endToEndLearningRate);
        }

        public Training withBatchSize(int value) {
            return new Training(steps, value, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                    weightDecay, gradientClip, loss, validationWindows, cherryLearningRateScale, trainable, mode,
                    endToEndSteps, endToEndLearningRate);
        }

        public Training withLoss(TrainingLoss value) {
            return new Training(steps, batchSize, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                    weightDecay, gradientClip, value, validationWindows, cherryLearningRateScale, trainable, mode,
                    endToEndSteps, endToEndLearningRate);
        }

        public Training withValidationWindows(int value) {
            return new Training(steps, batchSize, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                    weightDecay, gradientClip, loss, value, cherryLearningRateScale, trainable, mode,
                    endToEndSteps, endToEndLearningRate);
        }

        public Training withCherryLearningRateScale(float value) {
            return new Training(steps, batchSize, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                    weightDecay, gradientClip, loss, validationWindows, value, trainable, mode,
                    endToEndSteps, endToEndLearningRate);
        }

        public Training withTrainable(TrainableParameters value) {
            return new Training(steps, batchSize, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                    weightDecay, gradientClip, loss, validationWindows, cherryLearningRateScale, value, mode,
                    endToEndSteps, endToEndLearningRate);
        }

        public Training withMode(TrainingMode value) {
            return new Training(steps, batchSize, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                    weightDecay, gradientClip, loss, validationWindows, cherryLearningRateScale, trainable, value,
                    endToEndSteps, endToEndLearningRate);
        }

        public Training withEndToEndPhase(int phaseSteps, float phaseLearningRate) {
            return new Training(steps, batchSize, gradientAccumulation, learningRate, warmupFraction, floorFraction,
                    weightDecay, gradientClip, loss, validationWindows, cherryLearningRateScale, trainable, mode,
                    phaseSteps, phaseLearningRate);
        }

        /** Block-wise training ends with an end-to-end phase. */
        public boolean endToEndPhase() {
            return mode == TrainingMode.BLOCKWISE && endToEndSteps > 0;
        }

        public Training withLearningRate(float value) {
            return new Training(steps, batchSize, gradientAccumulation, value, warmupFraction, floorFraction,
                    weightDecay, gradientClip, loss, validationWindows, cherryLearningRateScale, trainable, mode,
                    endToEndSteps, endToEndLearningRate);
        }
    }

    /** The longest window, and the largest group, a recipe may ask for. */
    public static final int MAX_LENGTH = 1 << 20;

    /** The most calibration windows. */
    public static final int MAX_CALIBRATION_SAMPLES = 1_000_000;

    /** The longest window used when the recipe leaves it to the model (sequenceLength 0). */
    public static final int DEFAULT_MAX_SEQUENCE_LENGTH = 512;

    /** Every default. Bits have a default here (3, the paper's headline); {@code cherryq quantize} still asks for them. */
    public static final QuantizationRecipe DEFAULTS = new QuantizationRecipe(QuantMethod.CHERRYQ, InitMethod.RTN, 3, 128,
            QuantScheme.SYM_FULL, SelectionCriterion.GROUP_AWARE, 1.0 / 256, 128, Training.DEFAULTS, 0, 0, 0.01, false);

    /** Field names, as in JSON requests and the proto message. */
    public static final String METHOD = "method";
    public static final String INIT = "init";
    public static final String BITS = "bits";
    public static final String GROUP_SIZE = "group_size";
    public static final String SCHEME = "scheme";
    public static final String CRITERION = "criterion";
    public static final String CHERRY_FRACTION = "cherry_fraction";
    public static final String CALIBRATION_SAMPLES = "calibration_samples";
    public static final String STEPS = "steps";
    public static final String BATCH_SIZE = "batch_size";
    public static final String GRAD_ACCUM = "grad_accum";
    public static final String LEARNING_RATE = "lr";
    public static final String WARMUP_FRACTION = "warmup_fraction";
    public static final String FLOOR_FRACTION = "floor_fraction";
    public static final String WEIGHT_DECAY = "weight_decay";
    public static final String GRADIENT_CLIP = "gradient_clip";
    public static final String LOSS = "loss";
    public static final String VALIDATION_WINDOWS = "validation_windows";
    public static final String CHERRY_LR_SCALE = "cherry_lr_scale";
    public static final String TRAINABLE = "trainable";
    public static final String TRAINING = "training";
    public static final String E2E_STEPS = "e2e_steps";
    public static final String E2E_LR = "e2e_lr";
    public static final String SEQ_LEN = "seq_len";
    public static final String SEED = "seed";
    public static final String GPTQ_DAMPENING = "gptq_dampening";
    public static final String GPTQ_ACT_ORDER = "gptq_act_order";

    /**
     * Every field by its name, in the form a request carries it: enums by their wire names, numbers and booleans as
     * they are. Clients write requests from it, and front ends show defaults from it.
     */
    public Map<String, Object> fields() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put(METHOD, method.wireName());
        fields.put(INIT, init.wireName());
        fields.put(BITS, bits);
        fields.put(GROUP_SIZE, groupSize);
        fields.put(SCHEME, scheme.cliName());
        if (criterion != null) { // only cherryq needs one
            fields.put(CRITERION, criterion.cliName());
        }
        fields.put(CHERRY_FRACTION, cherryFraction);
        fields.put(CALIBRATION_SAMPLES, calibrationSamples);
        fields.put(STEPS, training.steps());
        fields.put(BATCH_SIZE, training.batchSize());
        fields.put(GRAD_ACCUM, training.gradientAccumulation());
        fields.put(LEARNING_RATE, training.learningRate());
        fields.put(WARMUP_FRACTION, training.warmupFraction());
        fields.put(FLOOR_FRACTION, training.floorFraction());
        fields.put(WEIGHT_DECAY, training.weightDecay());
        fields.put(GRADIENT_CLIP, training.gradientClip());
        fields.put(LOSS, training.loss().wireName());
        fields.put(VALIDATION_WINDOWS, training.validationWindows());
        fields.put(CHERRY_LR_SCALE, training.cherryLearningRateScale());
        fields.put(TRAINABLE, training.trainable() == null ? null : training.trainable().wireName());
        fields.put(TRAINING, training.mode() == null ? null : training.mode().wireName());
        fields.put(E2E_STEPS, training.endToEndSteps());
        fields.put(E2E_LR, training.endToEndLearningRate());
        fields.put(SEQ_LEN, sequenceLength);
        fields.put(SEED, seed);
        fields.put(GPTQ_DAMPENING, gptqDampening);
        fields.put(GPTQ_ACT_ORDER, gptqActOrder);
        return fields;
    }

    /** Every problem of this recipe, in field order; empty when it is valid. */
    public List<RecipeProblem> problems() {
        List<RecipeProblem> problems = new ArrayList<>();
        require(problems, method != null, METHOD, "null", "is required (" + QuantMethod.names() + ")");
        require(problems, init != null, INIT, "null", "is required (rtn, gptq)");
        require(problems, bits >= 2 && bits <= 8, BITS, bits, "is out of range 2..8");
        require(problems, (groupSize > 0 && groupSize <= MAX_LENGTH) || groupSize == QuantSpec.WHOLE_ROW, GROUP_SIZE,
                groupSize, "is out of range 1.." + MAX_LENGTH + " (or -1 for one group per row)");
        require(problems, scheme != null, SCHEME, "null", "is required (sym-full, asym, sym)");
        require(problems, criterion != null || method != QuantMethod.CHERRYQ, CRITERION, "null",
                "is required for cherryq (impact, saliency, group-aware, magnitude, random)");
        require(problems, cherryFraction >= 0 && cherryFraction <= 0.5, CHERRY_FRACTION, cherryFraction,
                "is out of range 0..0.5");
        if (scores() || usesGptq()) {
            require(problems, calibrationSamples >= 1 && calibrationSamples <= MAX_CALIBRATION_SAMPLES,
                    CALIBRATION_SAMPLES, calibrationSamples, "is out of range 1.." + MAX_CALIBRATION_SAMPLES);
        }
        if (method != null && method.trains()) {
            require(problems, training.steps() >= 1 && training.steps() <= Training.MAX_STEPS, STEPS,
                    training.steps(), "is out of range 1.." + Training.MAX_STEPS);
            require(problems, training.batchSize() >= 1 && training.batchSize() <= Training.MAX_BATCH, BATCH_SIZE,
                    training.batchSize(), "is out of range 1.." + Training.MAX_BATCH);
            require(problems, training.gradientAccumulation() >= 1
                    && training.gradientAccumulation() <= Training.MAX_BATCH, GRAD_ACCUM,
                    training.gradientAccumulation(), "is out of range 1.." + Training.MAX_BATCH);
            require(problems, Float.isFinite(training.learningRate()) && training.learningRate() > 0, LEARNING_RATE,
                    training.learningRate(), "must be positive and finite");
            require(problems, training.warmupFraction() >= 0 && training.warmupFraction() <= 1, WARMUP_FRACTION,
                    training.warmupFraction(), "is out of range 0..1");
            require(problems, training.floorFraction() >= 0 && training.floorFraction() <= 1, FLOOR_FRACTION,
                    training.floorFraction(), "is out of range 0..1 (0 = the paper's floor for the bit width)");
            require(problems, Float.isFinite(training.weightDecay()) && training.weightDecay() >= 0, WEIGHT_DECAY,
                    training.weightDecay(), "must be finite and at least 0");
            require(problems, Float.isFinite(training.gradientClip()) && training.gradientClip() > 0, GRADIENT_CLIP,
                    training.gradientClip(), "must be positive and finite");
            require(problems, training.loss() != null, LOSS, "null", "is required (ce, kd)");
            require(problems, training.validationWindows() >= 0
                    && training.validationWindows() <= Training.MAX_VALIDATION_WINDOWS, VALIDATION_WINDOWS,
                    training.validationWindows(), "is out of range 0.." + Training.MAX_VALIDATION_WINDOWS
                    + " (0 = no validation)");
            require(problems, Float.isFinite(training.cherryLearningRateScale())
                    && training.cherryLearningRateScale() > 0
                    && training.cherryLearningRateScale() <= Training.MAX_CHERRY_LEARNING_RATE_SCALE, CHERRY_LR_SCALE,
                    training.cherryLearningRateScale(), "is out of range (0, "
                    + (int) Training.MAX_CHERRY_LEARNING_RATE_SCALE + "]");
            require(problems, training.trainable() != null, TRAINABLE, "null",
                    "is required (" + TrainableParameters.names() + ")");
            require(problems, training.mode() != null, TRAINING, "null", "is required (end-to-end, blockwise)");
            require(problems, training.endToEndSteps() >= 0 && training.endToEndSteps() <= Training.MAX_STEPS,
                    E2E_STEPS, training.endToEndSteps(), "is out of range 0.." + Training.MAX_STEPS
                    + " (0 = no end-to-end phase after block-wise training)");
            require(problems, Float.isFinite(training.endToEndLearningRate()) && training.endToEndLearningRate() > 0,
                    E2E_LR, training.endToEndLearningRate(), "must be positive and finite");
        }
        require(problems, sequenceLength == 0 || (sequenceLength >= 2 && sequenceLength <= MAX_LENGTH), SEQ_LEN,
                sequenceLength, "is out of range 2.." + MAX_LENGTH + " (or 0 for min(512, the model's max positions))");
        if (usesGptq()) {
            require(problems, gptqDampening > 0 && gptqDampening < 1, GPTQ_DAMPENING, gptqDampening,
                    "is out of range (0, 1)");
        }
        return problems;
    }

    /** Throws {@link InvalidInputException} naming every invalid field; returns this recipe when valid. */
    public QuantizationRecipe validate() {
        List<RecipeProblem> problems = problems();
        if (!problems.isEmpty()) {
            throw new InvalidInputException("invalid recipe: " + problems.stream().map(RecipeProblem::describe)
                    .collect(Collectors.joining("; ")));
        }
        return this;
    }

    private static void require(List<RecipeProblem> problems, boolean valid, String field, Object value,
            String requirement) {
        if (!valid) {
            problems.add(new RecipeProblem(field, String.valueOf(value), requirement));
        }
    }

    /** The quantization format of the normal weights. */
    public QuantSpec quantSpec() {
        return new QuantSpec(bits, groupSize, scheme);
    }

    /** Impact scoring runs for CherryQ with a Fisher-based criterion and a non-zero fraction. */
    public boolean scores() {
        return selects() && (criterion == SelectionCriterion.IMPACT || criterion == SelectionCriterion.SALIENCY
                || criterion == SelectionCriterion.GROUP_AWARE);
    }

    /** Cherries are selected (by any criterion) for CherryQ with a non-zero fraction. */
    public boolean selects() {
        return method == QuantMethod.CHERRYQ && cherryFraction > 0;
    }

    /** GPTQ runs as the method itself, or as the starting point of training. */
    public boolean usesGptq() {
        return method == QuantMethod.GPTQ || (method != null && method.trains() && init == InitMethod.GPTQ);
    }

    /** Calibration text is read for impact scoring and for GPTQ. */
    public boolean needsCalibration() {
        return scores() || usesGptq();
    }

    /** The window length for a model: the recipe's, or min(512, the model's max positions) when it is 0. */
    public int sequenceLength(LlamaConfig config) {
        return sequenceLength != 0 ? sequenceLength // a negative length stays, for the checks to name it
                : Math.min(DEFAULT_MAX_SEQUENCE_LENGTH, config.maxPositionEmbeddings());
    }

    /** The floor as a fraction of the peak rate: the recipe's, or the paper's for the bit width. */
    public double floorFraction() {
        return training.floorFraction() > 0 ? training.floorFraction() : QatSettings.defaultFloor(bits);
    }

    /** The trainer's settings for windows of {@code length}, checkpointing every {@code checkpointEvery} steps. */
    public QatSettings qatSettings(int length, int checkpointEvery) {
        return new QatSettings(training.steps(), training.batchSize(), length, training.gradientAccumulation(),
                training.learningRate(), training.warmupFraction(), floorFraction(), training.weightDecay(),
                training.gradientClip(), seed, checkpointEvery, training.cherryLearningRateScale(), training.trainable());
    }

    /**
     * The end-to-end phase's settings after block-wise training: the trainer's, with the phase's steps and peak rate
     * ({@link Training#endToEndSteps} must be positive).
     */
    public QatSettings endToEndSettings(int length) {
        return new QatSettings(training.endToEndSteps(), training.batchSize(), length,
                training.gradientAccumulation(), training.endToEndLearningRate(), training.warmupFraction(),
                floorFraction(), training.weightDecay(), training.gradientClip(), seed, 0,
                training.cherryLearningRateScale(), training.trainable());
    }

    /** "3-bit g32 sym-full", for result tables. */
    public String formatName() {
        return bits + "-bit g" + groupSize + " " + scheme.cliName();
    }

    /** A one-line description of the method's row in a results table, e.g. for cherryq its fraction and steps. */
    public String describe() {
        StringBuilder text = new StringBuilder(formatName());
        if (usesGptq()) {
            text.append(method == QuantMethod.GPTQ ? ", GPTQ" : ", GPTQ start").append(String.format(Locale.ROOT,
                    " (damp %.3g%s)", gptqDampening, gptqActOrder ? ", act-order" : ""));
        }
        if (selects()) {
            text.append(String.format(Locale.ROOT, ", cherry fraction %.5f (%s)", cherryFraction, criterion.cliName()));
        }
        if (method.trains()) {
            text.append(String.format(Locale.ROOT, ", %d QAT steps at lr %.3g", training.steps(),
                    training.learningRate())).append(training.mode() == TrainingMode.BLOCKWISE ? ", block-wise"
                    : training.loss() == TrainingLoss.DISTILLATION ? ", distilled" : "");
            if (training.endToEndPhase()) {
                text.append(String.format(Locale.ROOT, ", then %d end-to-end steps of cherries and norms at lr %.3g%s",
                        training.endToEndSteps(), training.endToEndLearningRate(),
                        training.loss() == TrainingLoss.DISTILLATION ? ", distilled" : ""));
            }
            if (selects() && training.cherryLearningRateScale() != 1f) {
                text.append(String.format(Locale.ROOT, ", cherries at %.3gx the rate",
                        training.cherryLearningRateScale()));
            }
            if (training.trainable() != TrainableParameters.ALL) {
                text.append(", only linear weights trained");
            }
        }
        return text.toString();
    }

    public QuantizationRecipe withMethod(QuantMethod value) {
        return new QuantizationRecipe(value, init, bits, groupSize, scheme, criterion, cherryFraction,
                calibrationSamples, training, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withInit(InitMethod value) {
        return new QuantizationRecipe(method, value, bits, groupSize, scheme, criterion, cherryFraction,
                calibrationSamples, training, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withBits(int value) {
        return new QuantizationRecipe(method, init, value, groupSize, scheme, criterion, cherryFraction,
                calibrationSamples, training, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withGroupSize(int value) {
        return new QuantizationRecipe(method, init, bits, value, scheme, criterion, cherryFraction,
                calibrationSamples, training, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withScheme(QuantScheme value) {
        return new QuantizationRecipe(method, init, bits, groupSize, value, criterion, cherryFraction,
                calibrationSamples, training, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withCriterion(SelectionCriterion value) {
        return new QuantizationRecipe(method, init, bits, groupSize, scheme, value, cherryFraction,
                calibrationSamples, training, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withCherryFraction(double value) {
        return new QuantizationRecipe(method, init, bits, groupSize, scheme, criterion, value,
                calibrationSamples, training, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withCalibrationSamples(int value) {
        return new QuantizationRecipe(method, init, bits, groupSize, scheme, criterion, cherryFraction,
                value, training, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withTraining(Training value) {
        return new QuantizationRecipe(method, init, bits, groupSize, scheme, criterion, cherryFraction,
                calibrationSamples, value, sequenceLength, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withSequenceLength(int value) {
        return new QuantizationRecipe(method, init, bits, groupSize, scheme, criterion, cherryFraction,
                calibrationSamples, training, value, seed, gptqDampening, gptqActOrder);
    }

    public QuantizationRecipe withSeed(long value) {
        return new QuantizationRecipe(method, init, bits, groupSize, scheme, criterion, cherryFraction,
                calibrationSamples, training, sequenceLength, value, gptqDampening, gptqActOrder);
    }
}
