package dev.cherryq.fleet.job;

import com.google.protobuf.CodedOutputStream;
import dev.cherryq.fleet.storage.Digests;
import dev.cherryq.proto.v1.QuantizationRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;

/**
 * Job ids, derived the same way by every front door (the gateway, {@code cherryq publish}): with an idempotency key,
 * a hash of the key and of the canonical request, so the same request under the same key is one job wherever and
 * however often it is sent, and another request under the key is another job; without a key, a fresh id.
 */
public final class JobIds {

    private static final SecureRandom RANDOM = new SecureRandom();

    private JobIds() {}

    /**
     * The sha256 of a request as the fleet reads it: parsed, defaults filled in, identity and submission time cleared,
     * serialized deterministically. Two JSON bodies that differ only in field order, spacing or fields given at their
     * defaults have the same digest.
     */
    public static String requestDigest(QuantizationRequest request) {
        QuantizationRequest canonical = request.toBuilder().clearJobId().clearIdempotencyKey().clearSubmittedUnixMs()
                .build();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            CodedOutputStream output = CodedOutputStream.newInstance(bytes);
            output.useDeterministicSerialization();
            canonical.writeTo(output);
            output.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // in memory: not reached
        }
        return Digests.sha256(bytes.toByteArray());
    }

    /**
     * The request with its job id and idempotency key set: {@code key} when given, else the request's own
     * {@code idempotency_key} field.
     */
    public static QuantizationRequest assign(QuantizationRequest parsed, String key) {
        String idempotencyKey = key != null && !key.isEmpty() ? key : parsed.getIdempotencyKey();
        return parsed.toBuilder().setJobId(of(idempotencyKey, parsed)).setIdempotencyKey(idempotencyKey).build();
    }

    /** With a key, a hash of the key and the request's digest; without, a fresh time-stamped id. */
    public static String of(String idempotencyKey, QuantizationRequest request) {
        if (idempotencyKey != null && !idempotencyKey.isEmpty()) {
            return "job-" + Digests.sha256((idempotencyKey + "\n" + requestDigest(request))
                    .getBytes(StandardCharsets.UTF_8)).substring(0, 24);
        }
        byte[] suffix = new byte[4];
        RANDOM.nextBytes(suffix);
        return "job-" + LocalDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-"
                + HexFormat.of().formatHex(suffix);
    }
}
