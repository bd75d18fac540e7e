package dev.cherryq.cli.commands;

import dev.cherryq.fleet.kafka.EmbeddedKafkaBroker;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code cherryq broker}: a single-node Kafka broker (KRaft) on 127.0.0.1, for a local multi-process fleet. */
@Command(name = "broker", mixinStandardHelpOptions = true,
        description = {"Runs a real single-node Kafka broker (KRaft, Apache Kafka 4.4 in this JVM) on 127.0.0.1 until",
                "stopped: the broker of a local multi-process fleet. Data stays in --dir across restarts."})
public final class BrokerCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--port", defaultValue = "9092", description = "listener port (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--dir", defaultValue = "out/broker", description = "log folder (default: ${DEFAULT-VALUE})")
    Path directory;

    @Override
    public Integer call() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(directory.toAbsolutePath(), port);
        spec.commandLine().getOut().printf("Kafka broker ready at %s (log %s); Ctrl-C stops it%n",
                broker.bootstrapServers(), directory.toAbsolutePath());
        spec.commandLine().getOut().flush();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            broker.close();
            stopped.countDown();
        }));
        stopped.await();
        return 0;
    }
}
