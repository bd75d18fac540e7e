package dev.cherryq.fleet.task;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.cherryq.fleet.kafka.TopicSpec;
import dev.cherryq.proto.v1.Stage;
import java.util.function.Function;

/**
 * A stage handler's identity, stated once: the stage it belongs to, the topic it consumes (with its consumer group),
 * how its messages parse, and where a message names its job.
 */
public record StageBinding<T extends Message>(Stage stage, TopicSpec input, Parser<T> parser,
        Function<T, String> jobId) {}
