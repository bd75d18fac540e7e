package dev.cherryq.cli;

import dev.cherryq.cli.commands.BenchCommand;
import dev.cherryq.cli.commands.BrokerCommand;
import dev.cherryq.cli.commands.ConvertCommand;
import dev.cherryq.cli.commands.DemoCommand;
import dev.cherryq.cli.commands.EngineCommand;
import dev.cherryq.cli.commands.EvalCommand;
import dev.cherryq.cli.commands.ExportCommand;
import dev.cherryq.cli.commands.InspectCommand;
import dev.cherryq.cli.commands.JobCommands;
import dev.cherryq.cli.commands.PlotLossesCommand;
import dev.cherryq.cli.commands.PretrainCommand;
import dev.cherryq.cli.commands.PublishCommand;
import dev.cherryq.cli.commands.QuantizeCommand;
import dev.cherryq.cli.commands.ReportCommand;
import dev.cherryq.cli.commands.RunCommand;
import dev.cherryq.cli.commands.ServeCommand;
import dev.cherryq.cli.commands.TrainTokenizerCommand;
import dev.cherryq.cli.console.ExitCode;
import dev.cherryq.core.DjlRuntime;
import dev.cherryq.core.InvalidInputException;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * Entry point of the {@code cherryq} command. Sets DJL offline before anything can load the engine, keeps
 * library logging quiet unless CHERRYQ_LOG is set, and turns every user error into one line and exit code 2.
 */
@Command(
        name = "cherryq",
        mixinStandardHelpOptions = true,
        version = "cherryq 0.1.0",
        description = "Low-bit LLM quantization that keeps the high-impact 'cherry' parameters in high precision.",
        subcommands = {EvalCommand.class, QuantizeCommand.class, ConvertCommand.class, ExportCommand.class, InspectCommand.class,
                TrainTokenizerCommand.class, PretrainCommand.class, PlotLossesCommand.class, ReportCommand.class, DemoCommand.class,
                RunCommand.class, BenchCommand.class, ServeCommand.class, BrokerCommand.class, EngineCommand.class, JobCommands.Submit.class,
                JobCommands.Status.class, JobCommands.Watch.class, PublishCommand.class})
public final class CherryqCommand implements Runnable {

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        configureLogging(args.length > 0 && (args[0].equals("serve") || args[0].equals("broker")) ? "info" : "warn");
        DjlRuntime.ensureOffline();
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line and returns the exit code; output goes to the given writers. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        DjlRuntime.ensureOffline();
        CommandLine commandLine = new CommandLine(new CherryqCommand());
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setExecutionExceptionHandler((exception, line, parseResult) -> {
            if (exception instanceof InvalidInputException) {
                err.println("cherryq: error: " + exception.getMessage());
                return ExitCode.USER_ERROR;
            }
            if (System.getenv("CHERRYQ_DEBUG") != null) {
                exception.printStackTrace(err);
            }
            err.println("cherryq: internal error: " + exception + " (set CHERRYQ_DEBUG=1 for the stack trace)");
            return ExitCode.INTERNAL_ERROR;
        });
        commandLine.setParameterExceptionHandler((exception, arguments) -> {
            err.println("cherryq: error: " + exception.getMessage());
            err.println("Run '" + exception.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
            return ExitCode.USER_ERROR;
        });
        return commandLine.execute(args);
    }

    private static void configureLogging(String defaultLevel) {
        String level = System.getenv().getOrDefault("CHERRYQ_LOG", defaultLevel);
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        if (System.getenv("CHERRYQ_LOG") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka", "warn");
            System.setProperty("org.slf4j.simpleLogger.log.kafka", "warn");
            System.setProperty("org.slf4j.simpleLogger.log.state.change.logger", "warn");
            // the embedded broker's shutdown closes its controller channel twice; harmless, and not the user's concern
            System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka.clients.NetworkClient", "error");
            // a fresh embedded broker announces its first controller activation as a warning
            System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka.controller", "error");
        }
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        System.setProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils", "error");
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
    }
}
