package dev.cherryq.it.support;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Debian's prometheus binary, fetched with {@code apt-get download} into the git-ignored cache on first use and
 * unpacked with {@code dpkg -x} (no root, no install; FACTS.md), run on 127.0.0.1 against static targets.
 */
public final class PrometheusServer implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private final Process process;
    private final int port;
    private final String version;

    private PrometheusServer(Process process, int port, String version) {
        this.process = process;
        this.port = port;
        this.version = version;
    }

    /** Starts Prometheus scraping {@code targets} (job name -> port on 127.0.0.1) every second. */
    public static PrometheusServer start(Path directory, Map<String, Integer> targets) throws Exception {
        Path binary = binary(directory.resolve("unpacked"));
        StringBuilder config = new StringBuilder("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        targets.forEach((job, targetPort) -> config.append("  - job_name: ").append(job)
                .append("\n    static_configs:\n      - targets: ['127.0.0.1:").append(targetPort).append("']\n"));
        Path configFile = Files.writeString(directory.resolve("prometheus.yml"), config.toString());
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        String version = run(binary.toString(), "--version").lines().findFirst().orElse("?");
        Process process = new ProcessBuilder(binary.toString(), "--config.file=" + configFile,
                "--storage.tsdb.path=" + directory.resolve("data"), "--web.listen-address=127.0.0.1:" + port)
                .redirectErrorStream(true).redirectOutput(directory.resolve("prometheus.log").toFile()).start();
        PrometheusServer server = new PrometheusServer(process, port, version);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                if (server.get("/-/ready").statusCode() == 200) {
                    return server;
                }
            } catch (IOException e) {
                // not listening yet
            }
            if (!process.isAlive() || System.nanoTime() > deadline) {
                server.close();
                throw new IllegalStateException("prometheus did not become ready:\n"
                        + Files.readString(directory.resolve("prometheus.log")));
            }
            Thread.sleep(100);
        }
    }

    /** The unpacked binary; the .deb is cached under cherryq.cache.dir/prometheus (fetched from Debian once). */
    private static Path binary(Path unpacked) throws Exception {
        Path binary = DebianPackages.unpack("prometheus", List.of("prometheus"), unpacked).resolve("usr/bin/prometheus");
        if (!Files.isExecutable(binary)) {
            throw new IllegalStateException("Debian's prometheus package holds no usr/bin/prometheus");
        }
        return binary;
    }

    private static String run(String... command) throws Exception {
        return DebianPackages.run(null, command);
    }

    public String version() {
        return version;
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The result vector of an instant query. */
    public JsonNode query(String promql) throws IOException, InterruptedException {
        JsonNode body = GatewayApi.JSON.readTree(get("/api/v1/query?query="
                + URLEncoder.encode(promql, StandardCharsets.UTF_8)).body());
        return body.path("data").path("result");
    }

    /** Waits until {@code count} targets have been scraped; returns job -> health. */
    public Map<String, String> awaitTargetsUp(int count, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, String> health = new TreeMap<>();
        while (System.nanoTime() < deadline) {
            health.clear();
            JsonNode targets = GatewayApi.JSON.readTree(get("/api/v1/targets").body()).path("data").path("activeTargets");
            for (JsonNode target : targets) {
                health.put(target.path("labels").path("job").asText(), target.path("health").asText());
            }
            if (health.size() == count && health.values().stream().allMatch("up"::equals)) {
                return health;
            }
            Thread.sleep(250);
        }
        return health;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
