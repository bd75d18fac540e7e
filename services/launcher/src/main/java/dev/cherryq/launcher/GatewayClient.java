package dev.cherryq.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cherryq.core.InvalidInputException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The gateway's HTTP API from Java: submit, status, report, and the server-sent-events watch. The {@code cherryq}
 * job commands, {@code cherryq run} and the benchmarks talk to a fleet through it.
 */
public final class GatewayClient {

    /** HTTP/1.1: the JDK client would otherwise try an h2c upgrade on every plain-HTTP request. */
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;
    private final String token;

    public GatewayClient(String base, String token) {
        this.base = base.replaceAll("/+$", "");
        this.token = token;
    }

    /** Posts a JSON request; returns the response body (job id, state, URLs). */
    public JsonNode submit(String json, String idempotencyKey) throws IOException, InterruptedException {
        HttpRequest.Builder request = request("/v1/jobs").header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json));
        if (idempotencyKey != null) {
            request.header("Idempotency-Key", idempotencyKey);
        }
        return check(send(request.build()));
    }

    public JsonNode status(String jobId) throws IOException, InterruptedException {
        return check(send(request("/v1/jobs/" + jobId).GET().build()));
    }

    public JsonNode report(String jobId) throws IOException, InterruptedException {
        return check(send(request("/v1/jobs/" + jobId + "/report").GET().build()));
    }

    /** Streams status events until the job is final (or the server closes the stream); returns the last status. */
    public JsonNode watch(String jobId, Consumer<JsonNode> onStatus) throws IOException, InterruptedException {
        HttpResponse<Stream<String>> response;
        try {
            response = http.send(request("/v1/jobs/" + jobId + "/watch").GET().build(),
                    HttpResponse.BodyHandlers.ofLines());
        } catch (ConnectException e) {
            throw unreachable();
        }
        if (response.statusCode() != 200) {
            throw new InvalidInputException("gateway answered " + response.statusCode() + " to watch " + jobId);
        }
        JsonNode last = null;
        try (Stream<String> lines = response.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (line.startsWith("data: ")) {
                    last = Json.MAPPER.readTree(line.substring("data: ".length()));
                    onStatus.accept(last);
                }
            }
        }
        return last;
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(10));
        if (token != null && !token.isEmpty()) {
            builder.header("Authorization", "Bearer " + token);
        }
        return builder;
    }

    private HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            throw unreachable();
        }
    }

    private InvalidInputException unreachable() {
        return new InvalidInputException("no gateway at " + base + " (start one with 'cherryq serve gateway' or pass "
                + "--gateway URL)");
    }

    private static JsonNode check(HttpResponse<String> response) throws IOException {
        JsonNode body = Json.MAPPER.readTree(response.body().isBlank() ? "{}" : response.body());
        if (response.statusCode() >= 400) {
            throw new InvalidInputException("gateway: " + response.statusCode() + ": "
                    + body.path("error").asText(response.body().strip()));
        }
        return body;
    }
}
