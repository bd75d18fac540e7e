package dev.cherryq.fleet.task;

import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.storage.IntegrityException;
import dev.cherryq.proto.v1.ErrorRecord;
import dev.cherryq.proto.v1.Stage;
import java.io.IOException;
import java.nio.file.NoSuchFileException;

/**
 * Retriable or fatal, by walking the cause chain. Fatal: invalid requests and messages ({@link InvalidInputException},
 * {@link FatalTaskException}), integrity failures, missing objects, and JVM errors ({@link VirtualMachineError}:
 * out of memory, stack overflow; {@link LinkageError}), which the same task on the same worker would only repeat.
 * Retriable: I/O, network, Kafka and S3 client errors, and any other exception (retried a bounded number of times,
 * then failed for good).
 */
public final class ErrorClassifier {

    private ErrorClassifier() {}

    public static ErrorRecord classify(Throwable error, Stage stage) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof FatalTaskException fatal) {
                return record(fatal.code(), cause, stage, false);
            }
            if (cause instanceof InvalidInputException) {
                return record(FatalTaskException.INVALID_REQUEST, cause, stage, false);
            }
            if (cause instanceof IntegrityException) {
                return record(FatalTaskException.INTEGRITY, cause, stage, false);
            }
            if (cause instanceof NoSuchFileException) {
                return record(FatalTaskException.NOT_FOUND, cause, stage, false);
            }
            if (cause instanceof VirtualMachineError || cause instanceof LinkageError) {
                return record(FatalTaskException.RESOURCE_EXHAUSTED, cause, stage, false);
            }
        }
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root
                && (root instanceof java.util.concurrent.ExecutionException
                        || root instanceof java.util.concurrent.CompletionException)) {
            root = root.getCause();
        }
        String code = root instanceof IOException ? "IO" : root instanceof org.apache.kafka.common.KafkaException
                ? "KAFKA" : root instanceof software.amazon.awssdk.core.exception.SdkException ? "STORE" : "INTERNAL";
        return record(code, root, stage, true);
    }

    private static ErrorRecord record(String code, Throwable cause, Stage stage, boolean retriable) {
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return ErrorRecord.newBuilder().setCode(code).setMessage(message.lines().findFirst().orElse(message))
                .setStage(stage).setRetriable(retriable).setExceptionClass(cause.getClass().getName())
                .setAtUnixMs(System.currentTimeMillis()).build();
    }
}
