package dev.cherryq.fleet.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The configuration of one fleet process, parsed once from the environment (or flags mapped to the same names),
 * validated, and immutable afterwards. Every key is a {@link ConfigKey} in {@link #KEYS}; Kafka client settings
 * (SASL, SSL, ...) pass through as {@code CHERRYQ_KAFKA_PROPERTY_<NAME>} with {@code _} read as {@code .}, e.g.
 * {@code CHERRYQ_KAFKA_PROPERTY_SECURITY_PROTOCOL=SASL_SSL}.
 */
public record FleetConfig(String bootstrapServers, boolean createTopics, Map<String, String> kafkaProperties,
        StoreKind store, Path storeDirectory, S3Settings s3, List<Path> modelRoots, List<Path> dataRoots,
        List<String> allowedBuckets, Path workDirectory, String httpHost, int httpPort, String gatewayToken,
        int maxMessageBytes, int maxRequestBytes, int taskMaxAttempts, JobLimits jobLimits, GatewayLimits gateway,
        boolean depthStreaming, int memoryBudgetMib) {

    /**
     * What guards the gateway besides its token.
     *
     * @param insecure serve without a token on a non-loopback address (refused otherwise)
     * @param submitsPerMinute job submissions one client address may make per minute
     * @param maxActiveJobs jobs neither COMPLETED nor FAILED beyond which submissions are refused
     */
    public record GatewayLimits(boolean insecure, int submitsPerMinute, int maxActiveJobs) {}

    public enum StoreKind { FILESYSTEM, S3 }

    /** Where S3 objects go; {@code pathStyle} for MinIO and most S3-compatible stores. */
    public record S3Settings(String bucket, String endpoint, String region, boolean pathStyle, String accessKeyId,
            String secretAccessKey, String prefix) {}

    public static final String KAFKA_PROPERTY_PREFIX = "CHERRYQ_KAFKA_PROPERTY_";

    public static final ConfigKey<String> BOOTSTRAP_SERVERS = ConfigKey.string("CHERRYQ_KAFKA_BOOTSTRAP_SERVERS", null,
            "Kafka bootstrap servers, host:port[,host:port]").requiredKey();
    public static final ConfigKey<Boolean> CREATE_TOPICS = ConfigKey.bool("CHERRYQ_KAFKA_CREATE_TOPICS", true,
            "create missing topics at start-up (set false where an operator, e.g. Strimzi, owns them)");
    public static final ConfigKey<StoreKind> STORE = ConfigKey.choice("CHERRYQ_STORE", StoreKind.class,
            StoreKind.FILESYSTEM, "object store: filesystem or s3");
    public static final ConfigKey<String> STORE_DIR = ConfigKey.string("CHERRYQ_STORE_DIR", null,
            "root folder of the filesystem store (required with CHERRYQ_STORE=filesystem)");
    public static final ConfigKey<String> S3_BUCKET = ConfigKey.string("CHERRYQ_S3_BUCKET", null,
            "bucket for the fleet's objects (required with CHERRYQ_STORE=s3)");
    public static final ConfigKey<String> S3_ENDPOINT = ConfigKey.string("CHERRYQ_S3_ENDPOINT", "",
            "S3 endpoint URL, e.g. http://minio:9000; empty = AWS");
    public static final ConfigKey<String> S3_REGION = ConfigKey.string("CHERRYQ_S3_REGION", "us-east-1", "S3 region");
    public static final ConfigKey<Boolean> S3_PATH_STYLE = ConfigKey.bool("CHERRYQ_S3_PATH_STYLE", false,
            "path-style addressing (MinIO, s3proxy)");
    public static final ConfigKey<String> S3_ACCESS_KEY_ID = ConfigKey.string("CHERRYQ_S3_ACCESS_KEY_ID", "",
            "access key id; empty = the AWS default credential chain");
    public static final ConfigKey<String> S3_SECRET_ACCESS_KEY = ConfigKey.secret("CHERRYQ_S3_SECRET_ACCESS_KEY",
            "secret access key");
    public static final ConfigKey<String> S3_PREFIX = ConfigKey.string("CHERRYQ_S3_PREFIX", "",
            "key prefix inside the bucket");
    public static final ConfigKey<String> MODEL_ROOTS = ConfigKey.string("CHERRYQ_MODEL_ROOTS", "",
            "comma-separated folders requests may read models from; nothing else is readable");
    public static final ConfigKey<String> DATA_ROOTS = ConfigKey.string("CHERRYQ_DATA_ROOTS", "",
            "comma-separated folders requests may read text from");
    public static final ConfigKey<String> ALLOWED_BUCKETS = ConfigKey.string("CHERRYQ_ALLOWED_BUCKETS", "",
            "comma-separated S3 buckets requests may name in s3:// references (never the store's own bucket)");
    public static final ConfigKey<String> WORK_DIR = ConfigKey.string("CHERRYQ_WORK_DIR",
            System.getProperty("java.io.tmpdir") + "/cherryq-work", "local scratch and download cache");
    public static final ConfigKey<String> HTTP_HOST = ConfigKey.string("CHERRYQ_HTTP_HOST", "127.0.0.1",
            "address of the HTTP server (/metrics, /health, /ready, and the gateway API); 0.0.0.0 in containers");
    public static final ConfigKey<Integer> HTTP_PORT = ConfigKey.integer("CHERRYQ_HTTP_PORT", 8080, 0, 65535,
            "HTTP port; 0 picks a free one");
    public static final ConfigKey<String> GATEWAY_TOKEN = ConfigKey.secret("CHERRYQ_GATEWAY_TOKEN",
            "bearer token the gateway requires; unset = no authentication (logged loudly)");
    public static final ConfigKey<Integer> MAX_MESSAGE_BYTES = ConfigKey.integer("CHERRYQ_MAX_MESSAGE_BYTES",
            1 << 20, 1024, 64 << 20, "largest message a consumer accepts; larger ones are dead-lettered");
    public static final ConfigKey<Integer> MAX_REQUEST_BYTES = ConfigKey.integer("CHERRYQ_MAX_REQUEST_BYTES",
            64 << 10, 256, 16 << 20, "largest HTTP request body the gateway accepts");
    public static final ConfigKey<Integer> TASK_MAX_ATTEMPTS = ConfigKey.integer("CHERRYQ_TASK_MAX_ATTEMPTS", 6, 1,
            100, "attempts of a task that fails with a retriable error before it is failed for good (backoff 1, 2, 4, "
                    + "8, 16, then 30 s: the default 6 rides out about 30 s of broker or store outage)");

    public static final ConfigKey<Boolean> GATEWAY_INSECURE = ConfigKey.bool("CHERRYQ_GATEWAY_INSECURE", false,
            "let the gateway serve without CHERRYQ_GATEWAY_TOKEN on a non-loopback address (it refuses to start "
                    + "otherwise); for a network you trust, logged loudly");
    public static final ConfigKey<Integer> GATEWAY_SUBMITS_PER_MINUTE = ConfigKey.integer(
            "CHERRYQ_GATEWAY_SUBMITS_PER_MINUTE", 60, 1, 1_000_000, "job submissions one client address may make per "
                    + "minute (a burst of as many, then refilled evenly); more get 429 with Retry-After");
    public static final ConfigKey<Integer> GATEWAY_MAX_ACTIVE_JOBS = ConfigKey.integer("CHERRYQ_GATEWAY_MAX_ACTIVE_JOBS",
            1000, 1, 1_000_000, "jobs in flight (neither COMPLETED nor FAILED) beyond which new submissions get 429");
    public static final ConfigKey<Integer> MAX_JOB_TASKS = ConfigKey.integer("CHERRYQ_MAX_JOB_TASKS",
            JobLimits.DEFAULT_MAX_TASKS, 1, 1_000_000, "most tasks one job may fan out to (scoring shards, training "
                    + "segments, evaluation shards); a request above it is refused with the count");
    public static final ConfigKey<Integer> MAX_JOB_MTOKENS = ConfigKey.integer("CHERRYQ_MAX_JOB_MTOKENS",
            JobLimits.DEFAULT_MAX_MTOKENS, 1, 1_000_000, "most training tokens one job may process, in millions "
                    + "(steps x batch_size x grad_accum x seq_len)");
    public static final ConfigKey<Integer> MAX_INPUT_MIB = ConfigKey.integer("CHERRYQ_MAX_INPUT_MIB",
            JobLimits.DEFAULT_MAX_INPUT_MIB, 1, 1 << 20, "largest text file (calibration, training or evaluation) a "
                    + "job may read, in MiB");

    public static final ConfigKey<Boolean> DEPTH_STREAMING = ConfigKey.bool("CHERRYQ_DEPTH_STREAMING", false,
            "scorers and evaluators hold one decoder block in memory at a time (models larger than a worker; "
                    + "scoring then computes about a third more)");

    public static final ConfigKey<Integer> MEMORY_BUDGET = ConfigKey.integer("CHERRYQ_MEMORY_BUDGET", 0, 0,
            1 << 30, "memory this worker may use, in MiB; a training task estimated to need more is refused with the "
                    + "need and the budget (the job fails with that reason) instead of running out; 0 = no budget");

    public static final List<ConfigKey<?>> KEYS = List.of(BOOTSTRAP_SERVERS, CREATE_TOPICS, STORE, STORE_DIR,
            S3_BUCKET, S3_ENDPOINT, S3_REGION, S3_PATH_STYLE, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_PREFIX,
            MODEL_ROOTS, DATA_ROOTS, ALLOWED_BUCKETS, WORK_DIR, HTTP_HOST, HTTP_PORT, GATEWAY_TOKEN,
            MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES, TASK_MAX_ATTEMPTS, MAX_JOB_TASKS, MAX_JOB_MTOKENS, MAX_INPUT_MIB,
            GATEWAY_INSECURE, GATEWAY_SUBMITS_PER_MINUTE, GATEWAY_MAX_ACTIVE_JOBS, DEPTH_STREAMING, MEMORY_BUDGET);

    /** CHERRYQ_ variables read elsewhere (the launcher, the CLI, the engine's thread count): allowed beside these. */
    public static final List<String> CLIENT_SETTINGS = List.of("CHERRYQ_JAVA_OPTS", "CHERRYQ_LOG", "CHERRYQ_DEBUG",
            "CHERRYQ_GATEWAY_URL", "CHERRYQ_THREADS");

    /** Kafka settings whose values are secrets. */
    private static final List<String> SECRET_WORDS = List.of("password", "secret", "jaas", "token", "key");

    /** Parses and validates; throws {@link ConfigException} naming every bad key. Unknown CHERRYQ_ keys are errors. */
    public static FleetConfig from(Map<String, String> environment) {
        Parsed parsed = new Parsed(environment);
        KEYS.forEach(parsed::get); // every key once, so every problem is reported together
        String bootstrap = parsed.get(BOOTSTRAP_SERVERS);
        StoreKind store = parsed.get(STORE);
        String storeDir = parsed.get(STORE_DIR);
        String bucket = parsed.get(S3_BUCKET);
        if (store == StoreKind.FILESYSTEM && storeDir == null) {
            parsed.problems.add(STORE_DIR.name() + ": required with CHERRYQ_STORE=filesystem");
        }
        if (store == StoreKind.S3 && (bucket == null || bucket.isBlank())) {
            parsed.problems.add(S3_BUCKET.name() + ": required with CHERRYQ_STORE=s3");
        }
        String allowed = parsed.get(ALLOWED_BUCKETS);
        if (store == StoreKind.S3 && bucket != null && allowed != null && list(allowed).contains(bucket)) {
            parsed.problems.add(ALLOWED_BUCKETS.name() + ": must not include the store's bucket '" + bucket + "' "
                    + "(CHERRYQ_S3_BUCKET): requests could read other jobs' objects there");
        }
        String endpoint = parsed.get(S3_ENDPOINT);
        if (endpoint != null && !endpoint.isEmpty() && !endpoint.matches("https?://.+")) {
            parsed.problems.add(S3_ENDPOINT.name() + ": '" + endpoint + "' is not an http(s) URL");
        }
        Map<String, String> kafka = new TreeMap<>();
        environment.forEach((name, value) -> {
            if (name.startsWith(KAFKA_PROPERTY_PREFIX)) {
                kafka.put(name.substring(KAFKA_PROPERTY_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.'), value);
            } else if (name.startsWith("CHERRYQ_") && KEYS.stream().noneMatch(key -> key.name().equals(name))
                    && !CLIENT_SETTINGS.contains(name)) {
                parsed.problems.add(name + ": unknown setting (known: see FleetConfig.KEYS or docs/ARCHITECTURE.md)");
            }
        });
        if (!parsed.problems.isEmpty()) {
            throw new ConfigException(parsed.problems);
        }
        S3Settings s3 = new S3Settings(bucket, endpoint, parsed.get(S3_REGION), parsed.get(S3_PATH_STYLE),
                parsed.get(S3_ACCESS_KEY_ID), parsed.get(S3_SECRET_ACCESS_KEY), parsed.get(S3_PREFIX));
        return new FleetConfig(bootstrap, parsed.get(CREATE_TOPICS), Map.copyOf(kafka), store,
                storeDir == null ? null : Path.of(storeDir).toAbsolutePath().normalize(), s3,
                paths(parsed.get(MODEL_ROOTS)), paths(parsed.get(DATA_ROOTS)), list(parsed.get(ALLOWED_BUCKETS)),
                Path.of(parsed.get(WORK_DIR)).toAbsolutePath().normalize(), parsed.get(HTTP_HOST),
                parsed.get(HTTP_PORT), parsed.get(GATEWAY_TOKEN), parsed.get(MAX_MESSAGE_BYTES),
                parsed.get(MAX_REQUEST_BYTES), parsed.get(TASK_MAX_ATTEMPTS), JobLimits.of(parsed.get(MAX_JOB_TASKS),
                        parsed.get(MAX_JOB_MTOKENS), parsed.get(MAX_INPUT_MIB)), new GatewayLimits(
                        parsed.get(GATEWAY_INSECURE), parsed.get(GATEWAY_SUBMITS_PER_MINUTE),
                        parsed.get(GATEWAY_MAX_ACTIVE_JOBS)), parsed.get(DEPTH_STREAMING), parsed.get(MEMORY_BUDGET));
    }

    /** The effective settings, one per line, secrets redacted: what a service logs at start-up. */
    public String describe(Map<String, String> environment) {
        StringBuilder text = new StringBuilder();
        for (ConfigKey<?> key : KEYS) {
            String value = environment.get(key.name());
            String shown = value == null ? (key.defaultValue() == null ? "(unset)" : key.defaultValue() + " (default)")
                    : key.secret() ? "<redacted>" : value;
            text.append("  ").append(key.name()).append('=').append(shown).append('\n');
        }
        kafkaProperties.forEach((name, value) -> text.append("  kafka ").append(name).append('=')
                .append(isSecretKafkaProperty(name) ? "<redacted>" : value).append('\n'));
        return text.toString();
    }

    public static boolean isSecretKafkaProperty(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        return SECRET_WORDS.stream().anyMatch(lower::contains);
    }

    /** Reads the process environment. */
    public static FleetConfig fromEnvironment() {
        return from(System.getenv());
    }

    private static List<Path> paths(String value) {
        return list(value).stream().map(text -> Path.of(text).toAbsolutePath().normalize()).toList();
    }

    private static List<String> list(String value) {
        return value == null || value.isBlank() ? List.of()
                : Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    /** Collects every problem instead of stopping at the first. */
    private static final class Parsed {
        final Map<String, String> environment;
        final List<String> problems = new ArrayList<>();
        final Map<String, Object> values = new LinkedHashMap<>();

        Parsed(Map<String, String> environment) {
            this.environment = environment;
        }

        @SuppressWarnings("unchecked")
        <T> T get(ConfigKey<T> key) {
            if (values.containsKey(key.name())) {
                return (T) values.get(key.name());
            }
            String raw = environment.get(key.name());
            if (raw == null || raw.isEmpty() && key.required()) {
                raw = key.defaultValue();
            }
            T value = null;
            if (raw == null) {
                if (key.required()) {
                    problems.add(key.name() + ": required (" + key.description() + ")");
                }
            } else {
                try {
                    value = key.parser().apply(raw);
                } catch (IllegalArgumentException e) {
                    problems.add(key.name() + ": " + e.getMessage() + " (" + key.description() + ")");
                }
            }
            values.put(key.name(), value);
            return value;
        }
    }
}
