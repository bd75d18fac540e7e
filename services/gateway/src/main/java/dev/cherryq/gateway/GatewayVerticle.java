package dev.cherryq.gateway;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.cherryq.core.InvalidInputException;
import dev.cherryq.fleet.FleetContext;
import dev.cherryq.fleet.Readiness;
import dev.cherryq.fleet.job.JobIds;
import dev.cherryq.fleet.job.RequestSettings;
import dev.cherryq.fleet.job.WorkerTable;
import dev.cherryq.fleet.storage.ObjectKeys;
import dev.cherryq.fleet.task.JobEvents;
import dev.cherryq.proto.v1.JobState;
import dev.cherryq.proto.v1.JobStatus;
import dev.cherryq.proto.v1.QuantizationRequest;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's HTTP API on the process's router:
 * <ul>
 *   <li>{@code POST /v1/jobs}: a JSON request ({@link JobRequestJson}) becomes a {@link QuantizationRequest} on the
 *       requests topic; 202 with the job id. An {@code Idempotency-Key} header (or field) makes the job id a hash of
 *       the key and of the canonical request ({@link JobIds}), so a retried submission returns the existing
 *       job instead of starting a second one, and the same key with another request is refused with 409 naming the
 *       job that holds it. Two gateways that publish the same request at once publish one job id, which the planner
 *       plans once.</li>
 *   <li>{@code GET /v1/jobs}, {@code GET /v1/jobs/{id}}: status from the compacted status topic.</li>
 *   <li>{@code GET /v1/jobs/{id}/report}: the final report, read from the store.</li>
 *   <li>{@code GET /v1/jobs/{id}/watch}: server-sent events, one per status change, ending at COMPLETED or FAILED.</li>
 * </ul>
 * With CHERRYQ_GATEWAY_TOKEN set every /v1 call needs {@code Authorization: Bearer <token>} (compared in constant
 * time, never logged). Without it the gateway serves only on a loopback address, or where CHERRYQ_GATEWAY_INSECURE
 * says so, and warns loudly. Submissions are limited per client address and by the jobs in flight (429 with
 * Retry-After), and checked with the planner's own rules before anything is published (400 naming the field).
 */
public final class GatewayVerticle extends VerticleBase implements Readiness {

    private static final Logger LOG = LoggerFactory.getLogger(GatewayVerticle.class);
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().preservingProtoFieldNames()
            .omittingInsignificantWhitespace();

    private final FleetContext fleet;
    private final JobStatusTable table;
    private final SubmissionRateLimiter rateLimiter;
    private long metricsTimer;

    public GatewayVerticle(FleetContext fleet, JobStatusTable table) {
        this.fleet = fleet;
        this.table = table;
        this.rateLimiter = new SubmissionRateLimiter(fleet.config().gateway().submitsPerMinute(), System::nanoTime);
    }

    @Override
    public boolean isReady() {
        return table.isReady();
    }

    /**
     * Why the gateway must not start with this configuration, or null: without a token it serves only on a loopback
     * address, unless CHERRYQ_GATEWAY_INSECURE says the network is trusted.
     */
    static String refusal(dev.cherryq.fleet.config.FleetConfig config) {
        boolean noToken = config.gatewayToken() == null || config.gatewayToken().isEmpty();
        if (noToken && !isLoopback(config.httpHost()) && !config.gateway().insecure()) {
            return "refusing to serve the gateway on " + config.httpHost() + " without CHERRYQ_GATEWAY_TOKEN: anyone "
                    + "who reaches it could submit jobs. Set the token (a Secret in Kubernetes), bind 127.0.0.1, or "
                    + "set CHERRYQ_GATEWAY_INSECURE=true (cherryq serve --insecure) for a network you trust";
        }
        return null;
    }

    @Override
    public Future<?> start() {
        String refusal = refusal(fleet.config());
        if (refusal != null) {
            return Future.failedFuture(new IllegalStateException(refusal));
        }
        if (fleet.config().gatewayToken() == null || fleet.config().gatewayToken().isEmpty()) {
            LOG.warn("*** GATEWAY AUTHENTICATION IS OFF: CHERRYQ_GATEWAY_TOKEN is not set, so anyone who can reach "
                    + "{} can submit jobs{}. Set it for any deployment beyond this machine. ***",
                    fleet.config().httpHost(), isLoopback(fleet.config().httpHost()) ? " (loopback only here)"
                            : " (CHERRYQ_GATEWAY_INSECURE is set)");
        }
        Router router = fleet.router();
        router.route("/v1/*").handler(this::authenticate);
        router.post("/v1/jobs").handler(BodyHandler.create().setBodyLimit(fleet.config().maxRequestBytes()));
        router.post("/v1/jobs").handler(this::submit);
        router.get("/v1/jobs").handler(this::list);
        router.get("/v1/jobs/:id").handler(this::status);
        router.get("/v1/jobs/:id/report").handler(this::report);
        router.get("/v1/jobs/:id/watch").handler(this::watch);
        router.route("/v1/*").failureHandler(context -> {
            int code = context.statusCode() > 0 ? context.statusCode() : 500;
            if (code == 413) {
                fleet.metrics().gatewayRejected.labelValues("too_large").inc();
            }
            error(context.response(), code, code == 413 ? "request body exceeds " + fleet.config().maxRequestBytes()
                    + " bytes" : context.failure() == null ? "request failed" : context.failure().getMessage());
        });
        metricsTimer = vertx.setPeriodic(2000, id -> countJobs());
        return Future.succeededFuture();
    }

    @Override
    public Future<?> stop() {
        vertx.cancelTimer(metricsTimer);
        return Future.succeededFuture();
    }

    private void authenticate(RoutingContext context) {
        String token = fleet.config().gatewayToken();
        if (token == null || token.isEmpty()) {
            context.next();
            return;
        }
        String header = context.request().getHeader("Authorization");
        byte[] given = header == null ? new byte[0] : header.getBytes(StandardCharsets.UTF_8);
        byte[] expected = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(given, expected)) {
            fleet.metrics().gatewayRejected.labelValues("unauthorized").inc();
            context.response().putHeader("WWW-Authenticate", "Bearer");
            error(context.response(), 401, "missing or wrong bearer token");
            return;
        }
        context.next();
    }

    private void submit(RoutingContext context) {
        long retryAfter = rateLimiter.acquire(context.request().remoteAddress() == null ? "unknown"
                : context.request().remoteAddress().hostAddress());
        if (retryAfter > 0) {
            fleet.metrics().gatewayRejected.labelValues("rate_limited").inc();
            context.response().putHeader("Retry-After", Long.toString(retryAfter));
            error(context.response(), 429, "more than " + fleet.config().gateway().submitsPerMinute() + " submissions "
                    + "a minute from this address; retry in " + retryAfter + " s");
            return;
        }
        long active = table.all().values().stream().filter(status -> !JobStatusFold.isFinal(status.getState())).count();
        if (active >= fleet.config().gateway().maxActiveJobs()) {
            fleet.metrics().gatewayRejected.labelValues("too_many_jobs").inc();
            context.response().putHeader("Retry-After", "60");
            error(context.response(), 429, active + " jobs are in flight, the fleet's limit "
                    + "(CHERRYQ_GATEWAY_MAX_ACTIVE_JOBS); retry when some have finished");
            return;
        }
        String body = context.body().asString();
        String key = context.request().getHeader("Idempotency-Key");
        QuantizationRequest request;
        try {
            QuantizationRequest parsed = JobRequestJson.parse(body == null ? "" : body, "pending");
            RequestSettings.validate(parsed, fleet.config().jobLimits()); // the planner runs the same checks again
            request = JobIds.assign(parsed, key);
        } catch (InvalidInputException e) {
            fleet.metrics().gatewayRejected.labelValues("invalid_request").inc();
            error(context.response(), 400, e.getMessage());
            return;
        }
        var existing = table.get(request.getJobId());
        if (existing.isPresent()) {
            respond(context.response(), 200, accepted(existing.get().getJobId(), existing.get().getState())
                    .put("duplicate", true));
            return;
        }
        String idempotencyKey = request.getIdempotencyKey();
        var holder = idempotencyKey.isEmpty() ? java.util.Optional.<JobStatus>empty() : table.all().values().stream()
                .filter(status -> status.getIdempotencyKey().equals(idempotencyKey)).findFirst();
        if (holder.isPresent()) {
            fleet.metrics().gatewayRejected.labelValues("idempotency_conflict").inc();
            respond(context.response(), 409, new JsonObject().put("error", "Idempotency-Key '" + idempotencyKey
                    + "' belongs to job " + holder.get().getJobId() + ", submitted with another request; use a new "
                    + "key for a new job").put("job_id", holder.get().getJobId()));
            return;
        }
        fleet.bookkeeping().submit(() -> {
            fleet.publisher().send(JobEvents.submission(request));
            return null;
        }).whenComplete((ignored, failure) -> vertx.runOnContext(v -> {
            if (failure != null) {
                LOG.error("job {}: could not publish the request: {}", request.getJobId(), failure.toString());
                error(context.response(), 503, "the request could not be queued (Kafka unavailable); retry with the "
                        + "same Idempotency-Key");
                return;
            }
            LOG.info("job {}: queued ({} {}-bit, model {})", request.getJobId(), request.getMethod(),
                    request.getBits(), request.getModel().getUri());
            respond(context.response(), 202, accepted(request.getJobId(), JobState.JOB_STATE_QUEUED));
        }));
    }

    private JsonObject accepted(String jobId, JobState state) {
        return new JsonObject().put("job_id", jobId).put("state", state.name())
                .put("status_url", "/v1/jobs/" + jobId).put("watch_url", "/v1/jobs/" + jobId + "/watch");
    }

    private void list(RoutingContext context) {
        JsonArray jobs = new JsonArray();
        table.all().values().stream().sorted((a, b) -> Long.compare(b.getCreatedUnixMs(), a.getCreatedUnixMs()))
                .forEach(status -> jobs.add(new JsonObject().put("job_id", status.getJobId())
                        .put("state", status.getState().name()).put("updated_unix_ms", status.getUpdatedUnixMs())));
        respond(context.response(), 200, new JsonObject().put("jobs", jobs));
    }

    private void status(RoutingContext context) {
        String jobId = context.pathParam("id");
        table.get(jobId).ifPresentOrElse(status -> respondJson(context.response(), 200, print(status)),
                () -> error(context.response(), 404, "no job '" + jobId + "'"));
    }

    private void report(RoutingContext context) {
        String jobId = context.pathParam("id");
        var status = table.get(jobId);
        if (status.isEmpty()) {
            error(context.response(), 404, "no job '" + jobId + "'");
            return;
        }
        if (status.get().getState() != JobState.JOB_STATE_COMPLETED || !status.get().getResult().hasReport()) {
            error(context.response(), 409, "job '" + jobId + "' is " + status.get().getState().name()
                    + "; its report exists once it is COMPLETED");
            return;
        }
        fleet.bookkeeping().submit(() -> withWorkers(fleet.store().fetchBytes(status.get().getResult().getReport()),
                        status.get()))
                .whenComplete((report, failure) -> vertx.runOnContext(v -> {
                    if (failure != null) {
                        error(context.response(), 502, "report unreadable: " + failure.getMessage());
                    } else {
                        respondJson(context.response(), 200, report);
                    }
                }));
    }

    /**
     * The evaluator's stored report with the job's workers added: per stage and worker, tasks done, their seconds and
     * peak resident memory ({@link WorkerTable}), from the status the task events folded into. The evaluator cannot
     * write them: its own fan-in is the job's last task.
     */
    static String withWorkers(byte[] report, JobStatus status) throws java.io.IOException {
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) REPORT_JSON.readTree(report);
        json.set("workers", WorkerTable.json(status.getWorkersList()));
        return REPORT_JSON.writeValueAsString(json);
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper REPORT_JSON =
            new com.fasterxml.jackson.databind.ObjectMapper();

    /** Server-sent events: the current status, then every change, until the job is final. */
    private void watch(RoutingContext context) {
        String jobId = context.pathParam("id");
        if (!ObjectKeys.isValidJobId(jobId)) {
            error(context.response(), 400, "invalid job id");
            return;
        }
        HttpServerResponse response = context.response();
        response.setChunked(true).putHeader("content-type", "text/event-stream").putHeader("cache-control", "no-cache");
        var io = vertx.getOrCreateContext();
        AtomicReference<Consumer<JobStatus>> listener = new AtomicReference<>();
        listener.set(status -> {
            if (status.getJobId().equals(jobId)) {
                io.runOnContext(v -> send(response, status, listener.get()));
            }
        });
        table.addListener(listener.get());
        response.closeHandler(v -> table.removeListener(listener.get()));
        table.get(jobId).ifPresentOrElse(status -> send(response, status, listener.get()),
                () -> response.write(": waiting for job " + jobId + "\n\n"));
    }

    private void send(HttpServerResponse response, JobStatus status, Consumer<JobStatus> listener) {
        if (response.ended() || response.closed()) {
            return;
        }
        response.write("event: status\ndata: " + print(status) + "\n\n");
        if (JobStatusFold.isFinal(status.getState())) {
            table.removeListener(listener);
            response.end();
        }
    }

    private void countJobs() {
        Map<JobState, Integer> counts = new EnumMap<>(JobState.class);
        for (JobState state : JobState.values()) {
            if (state != JobState.UNRECOGNIZED && state != JobState.JOB_STATE_UNSPECIFIED) {
                counts.put(state, 0);
            }
        }
        table.all().values().forEach(status -> counts.merge(status.getState(), 1, Integer::sum));
        counts.forEach((state, count) -> fleet.metrics().jobs.labelValues(stateName(state)).set(count));
    }

    private static boolean isLoopback(String host) {
        return host.equals("127.0.0.1") || host.equals("localhost") || host.equals("::1");
    }

    static String stateName(JobState state) {
        return state.name().substring("JOB_STATE_".length()).toLowerCase(java.util.Locale.ROOT);
    }

    private static String print(JobStatus status) {
        try {
            return PRINTER.print(status);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void respond(HttpServerResponse response, int code, JsonObject body) {
        respondJson(response, code, body.encode());
    }

    private static void respondJson(HttpServerResponse response, int code, String body) {
        if (!response.ended()) {
            response.setStatusCode(code).putHeader("content-type", "application/json").end(body + "\n");
        }
    }

    private static void error(HttpServerResponse response, int code, String message) {
        respond(response, code, new JsonObject().put("error", message));
    }
}
