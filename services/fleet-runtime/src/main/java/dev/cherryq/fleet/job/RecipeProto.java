package dev.cherryq.fleet.job;

import dev.cherryq.core.qat.TrainableParameters;
import dev.cherryq.core.recipe.TrainingMode;
import dev.cherryq.core.quant.QuantScheme;
import dev.cherryq.core.recipe.InitMethod;
import dev.cherryq.core.recipe.QuantMethod;
import dev.cherryq.core.recipe.QuantizationRecipe;
import dev.cherryq.core.selection.SelectionCriterion;
import dev.cherryq.proto.v1.Criterion;
import dev.cherryq.proto.v1.Init;
import dev.cherryq.proto.v1.Method;
import dev.cherryq.proto.v1.QatHyperparameters;
import dev.cherryq.proto.v1.QuantizationRequest;
import dev.cherryq.proto.v1.Trainable;
import dev.cherryq.proto.v1.TrainingLoss;

/**
 * The pure translation between core's {@link QuantizationRecipe} and the recipe fields of a proto
 * {@link QuantizationRequest}, with no checks of its own. Where proto3's zero means "unset" and the field may be
 * left out, it becomes the recipe's default ({@code init}, {@code loss}, {@code trainable},
 * {@code e2e_lr}, {@code gptq_dampening}); an unspecified
 * method, scheme or criterion becomes null, which the recipe's validation names.
 */
public final class RecipeProto {

    private RecipeProto() {}

    public static QuantizationRecipe toRecipe(QuantizationRequest request) {
        QatHyperparameters qat = request.getQat();
        return new QuantizationRecipe(method(request.getMethod()),
                request.getInit() == Init.INIT_UNSPECIFIED ? QuantizationRecipe.DEFAULTS.init()
                        : request.getInit() == Init.INIT_GPTQ ? InitMethod.GPTQ : InitMethod.RTN, request.getBits(),
                request.getGroupSize(), scheme(request.getScheme()), criterion(request.getCriterion()),
                request.getCherryFraction(), request.getCalibrationSamples(),
                new QuantizationRecipe.Training(qat.getSteps(), qat.getBatchSize(), qat.getGradAccum(),
                        qat.getLearningRate(), qat.getWarmupFraction(), qat.getFloorFraction(), qat.getWeightDecay(),
                        qat.getGradientClip(), loss(qat.getLoss()), qat.hasValidationWindows()
                                ? qat.getValidationWindows() : QuantizationRecipe.Training.DEFAULTS.validationWindows(),
                        qat.hasCherryLrScale() ? qat.getCherryLrScale()
                                : QuantizationRecipe.Training.DEFAULTS.cherryLearningRateScale(),
                        trainable(qat.getTrainable()), mode(qat.getMode()), qat.getE2ESteps(),
                        qat.hasE2ELr() ? qat.getE2ELr()
                                : QuantizationRecipe.Training.DEFAULTS.endToEndLearningRate()),
                request.getSeqLen(), request.getSeed(),
                request.getGptqDampening() == 0 ? QuantizationRecipe.DEFAULTS.gptqDampening()
                        : request.getGptqDampening(), request.getGptqActOrder());
    }

    /** Sets every recipe field of {@code request} (the segment steps of {@code qat} are kept). */
    public static QuantizationRequest.Builder apply(QuantizationRecipe recipe, QuantizationRequest.Builder request) {
        QuantizationRecipe.Training training = recipe.training();
        QatHyperparameters.Builder qat = request.getQat().toBuilder().setSteps(training.steps())
                .setBatchSize(training.batchSize()).setGradAccum(training.gradientAccumulation())
                .setLearningRate(training.learningRate()).setWarmupFraction(training.warmupFraction())
                .setFloorFraction(training.floorFraction()).setWeightDecay(training.weightDecay())
                .setGradientClip(training.gradientClip()).setValidationWindows(training.validationWindows())
                .setCherryLrScale(training.cherryLearningRateScale()).setTrainable(trainable(training.trainable()))
                .setMode(mode(training.mode())).setE2ESteps(training.endToEndSteps())
                .setE2ELr(training.endToEndLearningRate())
                .setLoss(training.loss() == dev.cherryq.core.recipe.TrainingLoss.DISTILLATION
                        ? TrainingLoss.TRAINING_LOSS_DISTILLATION : TrainingLoss.TRAINING_LOSS_CROSS_ENTROPY);
        return request.setMethod(method(recipe.method()))
                .setInit(recipe.init() == InitMethod.GPTQ ? Init.INIT_GPTQ : Init.INIT_RTN).setBits(recipe.bits())
                .setGroupSize(recipe.groupSize()).setScheme(scheme(recipe.scheme()))
                .setCriterion(criterion(recipe.criterion())).setCherryFraction(recipe.cherryFraction())
                .setCalibrationSamples(recipe.calibrationSamples()).setQat(qat).setSeqLen(recipe.sequenceLength())
                .setSeed(recipe.seed()).setGptqDampening(recipe.gptqDampening())
                .setGptqActOrder(recipe.gptqActOrder());
    }

    static TrainableParameters trainable(Trainable trainable) {
        return switch (trainable) {
            case TRAINABLE_ALL -> TrainableParameters.ALL;
            case TRAINABLE_LINEAR -> TrainableParameters.LINEAR;
            default -> QuantizationRecipe.Training.DEFAULTS.trainable(); // unspecified
        };
    }

    static TrainingMode mode(dev.cherryq.proto.v1.TrainingMode mode) {
        return switch (mode) {
            case TRAINING_MODE_END_TO_END -> TrainingMode.END_TO_END;
            case TRAINING_MODE_BLOCKWISE -> TrainingMode.BLOCKWISE;
            default -> QuantizationRecipe.Training.DEFAULTS.mode(); // unspecified
        };
    }

    static dev.cherryq.proto.v1.TrainingMode mode(TrainingMode mode) {
        return mode == TrainingMode.BLOCKWISE ? dev.cherryq.proto.v1.TrainingMode.TRAINING_MODE_BLOCKWISE
                : dev.cherryq.proto.v1.TrainingMode.TRAINING_MODE_END_TO_END;
    }

    static Trainable trainable(TrainableParameters trainable) {
        return trainable == TrainableParameters.LINEAR ? Trainable.TRAINABLE_LINEAR : Trainable.TRAINABLE_ALL;
    }

    static dev.cherryq.core.recipe.TrainingLoss loss(TrainingLoss loss) {
        return switch (loss) {
            case TRAINING_LOSS_CROSS_ENTROPY -> dev.cherryq.core.recipe.TrainingLoss.CROSS_ENTROPY;
            case TRAINING_LOSS_DISTILLATION -> dev.cherryq.core.recipe.TrainingLoss.DISTILLATION;
            default -> QuantizationRecipe.DEFAULTS.training().loss();
        };
    }

    static QuantMethod method(Method method) {
        return switch (method) {
            case METHOD_RTN -> QuantMethod.RTN;
            case METHOD_GPTQ -> QuantMethod.GPTQ;
            case METHOD_QAT -> QuantMethod.QAT;
            case METHOD_CHERRYQ -> QuantMethod.CHERRYQ;
            default -> null;
        };
    }

    static Method method(QuantMethod method) {
        return switch (method) {
            case RTN -> Method.METHOD_RTN;
            case GPTQ -> Method.METHOD_GPTQ;
            case QAT -> Method.METHOD_QAT;
            case CHERRYQ -> Method.METHOD_CHERRYQ;
        };
    }

    static QuantScheme scheme(dev.cherryq.proto.v1.QuantScheme scheme) {
        return switch (scheme) {
            case QUANT_SCHEME_SYM_FULL -> QuantScheme.SYM_FULL;
            case QUANT_SCHEME_ASYM -> QuantScheme.ASYM;
            case QUANT_SCHEME_SYM -> QuantScheme.SYM;
            default -> null;
        };
    }

    static dev.cherryq.proto.v1.QuantScheme scheme(QuantScheme scheme) {
        return switch (scheme) {
            case SYM_FULL -> dev.cherryq.proto.v1.QuantScheme.QUANT_SCHEME_SYM_FULL;
            case ASYM -> dev.cherryq.proto.v1.QuantScheme.QUANT_SCHEME_ASYM;
            case SYM -> dev.cherryq.proto.v1.QuantScheme.QUANT_SCHEME_SYM;
        };
    }

    static SelectionCriterion criterion(Criterion criterion) {
        return switch (criterion) {
            case CRITERION_IMPACT -> SelectionCriterion.IMPACT;
            case CRITERION_MAGNITUDE -> SelectionCriterion.MAGNITUDE;
            case CRITERION_RANDOM -> SelectionCriterion.RANDOM;
            case CRITERION_SALIENCY -> SelectionCriterion.SALIENCY;
            case CRITERION_GROUP_AWARE -> SelectionCriterion.GROUP_AWARE;
            default -> null;
        };
    }

    static Criterion criterion(SelectionCriterion criterion) {
        if (criterion == null) {
            return Criterion.CRITERION_UNSPECIFIED;
        }
        return switch (criterion) {
            case IMPACT -> Criterion.CRITERION_IMPACT;
            case MAGNITUDE -> Criterion.CRITERION_MAGNITUDE;
            case RANDOM -> Criterion.CRITERION_RANDOM;
            case SALIENCY -> Criterion.CRITERION_SALIENCY;
            case GROUP_AWARE -> Criterion.CRITERION_GROUP_AWARE;
        };
    }
}
