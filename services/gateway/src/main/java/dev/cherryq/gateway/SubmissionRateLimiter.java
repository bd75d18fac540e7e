package dev.cherryq.gateway;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Per-client token buckets for job submissions: each client address may submit a burst of {@code perMinute}, refilled
 * evenly over a minute. A bucket that has refilled is forgotten (a full bucket is the same as none), so memory holds
 * only the clients of about the last minute, and never more than {@link #MAX_CLIENTS}.
 */
final class SubmissionRateLimiter {

    /** The most client addresses tracked at once; the least recently seen is dropped beyond it. */
    static final int MAX_CLIENTS = 100_000;

    private static final class Bucket {
        double tokens;
        long at;

        Bucket(double tokens, long at) {
            this.tokens = tokens;
            this.at = at;
        }
    }

    private final double capacity;
    private final double perNano;
    private final LongSupplier clock;
    /** Client address -> bucket, least recently seen first. */
    private final Map<String, Bucket> buckets = new LinkedHashMap<>(16, 0.75f, true);

    SubmissionRateLimiter(int perMinute, LongSupplier nanoClock) {
        this.capacity = perMinute;
        this.perNano = perMinute / 60e9;
        this.clock = nanoClock;
    }

    /** Takes one submission from the client's bucket: 0 when allowed, else the seconds until one is (at least 1). */
    synchronized long acquire(String client) {
        long now = clock.getAsLong();
        forgetRefilled(now);
        Bucket bucket = buckets.computeIfAbsent(client, c -> new Bucket(capacity, now));
        bucket.tokens = refilled(bucket, now);
        bucket.at = now;
        if (bucket.tokens >= 1) {
            bucket.tokens -= 1;
            return 0;
        }
        return Math.max(1, (long) Math.ceil((1 - bucket.tokens) / perNano / 1e9));
    }

    /** Clients with a bucket that is not full (for tests). */
    synchronized int trackedClients() {
        forgetRefilled(clock.getAsLong());
        return buckets.size();
    }

    private double refilled(Bucket bucket, long now) {
        return Math.min(capacity, bucket.tokens + (now - bucket.at) * perNano);
    }

    /** Drops the least recently seen buckets that are full again, and any beyond the cap. */
    private void forgetRefilled(long now) {
        for (Iterator<Bucket> oldest = buckets.values().iterator(); oldest.hasNext(); ) {
            Bucket bucket = oldest.next();
            if (refilled(bucket, now) < capacity && buckets.size() <= MAX_CLIENTS) {
                return;
            }
            oldest.remove();
        }
    }
}
