package dev.cherryq.fleet.task;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.proto.v1.Stage;

/**
 * One stage's work on one message type. {@link #handle} runs on the process's compute thread, writes its outputs
 * to the object store under deterministic keys, and returns the messages to publish; the consumer publishes them
 * and only then commits. Handling the same message twice must change nothing.
 */
public interface StageHandler<T extends Message> {

    Stage stage();

    TopicSpec input();

    Parser<T> parser();

    /** The message's job id (validated by the consumer before {@link #handle}). */
    String jobId(T message);

    TaskOutcome handle(T message) throws Exception;

    /**
     * True (the default) when the work uses the model engine and must run on the process's single compute thread;
     * false for bookkeeping (planning, fan-in, status) that may run beside a long training step.
     */
    default boolean usesCompute() {
        return true;
    }
}
