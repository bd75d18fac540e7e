package dev.cherryq.it.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Set;

/** The gateway's HTTP API as a test sees it: status codes and JSON bodies, bounded waits. */
public final class GatewayApi {

    public static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> TERMINAL = Set.of("JOB_STATE_COMPLETED", "JOB_STATE_FAILED");

    /** HTTP/1.1: the JDK client would otherwise try an h2c upgrade against Vert.x. */
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;
    private final String token;

    public GatewayApi(int port, String token) {
        this.base = "http://127.0.0.1:" + port;
        this.token = token;
    }

    public record Reply(int status, String body) {
        public JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }
    }

    public Reply post(String path, String body, String bearer) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (bearer != null) {
            request.header("Authorization", "Bearer " + bearer);
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(response.statusCode(), response.body());
    }

    public Reply get(String path) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).GET();
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(response.statusCode(), response.body());
    }

    /** Submits a job and returns its id (fails the test on any status but 202). */
    public String submit(String requestJson) throws IOException, InterruptedException {
        Reply reply = post("/v1/jobs", requestJson, token);
        if (reply.status() != 202 && reply.status() != 200) {
            throw new AssertionError("submission refused: " + reply.status() + " " + reply.body());
        }
        return reply.json().path("job_id").asText();
    }

    /** Polls the job until it is COMPLETED or FAILED; fails the test when {@code timeout} passes first. */
    public JsonNode awaitEnd(String jobId, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode status = null;
        while (System.nanoTime() < deadline) {
            Reply reply = get("/v1/jobs/" + jobId);
            if (reply.status() == 200) {
                status = reply.json();
                if (TERMINAL.contains(status.path("state").asText())) {
                    return status;
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError("job " + jobId + " did not end within " + timeout + "; last status " + status);
    }

    /** The report of a completed job, retried while the store is briefly unavailable. */
    public JsonNode report(String jobId) throws IOException, InterruptedException {
        Reply reply = null;
        for (int attempt = 0; attempt < 50; attempt++) {
            reply = get("/v1/jobs/" + jobId + "/report");
            if (reply.status() == 200) {
                return reply.json();
            }
            Thread.sleep(200);
        }
        throw new AssertionError("no report for " + jobId + ": " + reply.status() + " " + reply.body());
    }

    public String metrics() throws IOException, InterruptedException {
        return get("/metrics").body();
    }
}
