package dev.cherryq.it.support;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** A stage worker JVM started by {@link ItFleet}: its pid, log and HTTP port (/metrics, /ready). */
public final class WorkerProcess {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private final String stage;
    private final String name;
    private final Process process;
    private final Path log;
    private volatile int port = -1;

    WorkerProcess(String stage, String name, Process process, Path log) {
        this.stage = stage;
        this.name = name;
        this.process = process;
        this.log = log;
    }

    public String stage() {
        return stage;
    }

    public String name() {
        return name;
    }

    public long pid() {
        return process.pid();
    }

    public Path log() {
        return log;
    }

    public int port() {
        return port;
    }

    void setPort(int port) {
        this.port = port;
    }

    boolean isReady() {
        try {
            return get("/ready").statusCode() == 200;
        } catch (Exception e) {
            return false;
        }
    }

    public String metrics() throws Exception {
        return get("/metrics").body();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** SIGKILL, then wait for the process to be gone. */
    void killHard() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(name + " survived SIGKILL for 30 s");
        }
    }

    /** SIGTERM (a clean shutdown), SIGKILL after 20 s. */
    void stop() {
        process.destroy();
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
