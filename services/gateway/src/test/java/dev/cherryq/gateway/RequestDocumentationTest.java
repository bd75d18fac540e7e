package dev.cherryq.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * request.proto is the published schema: every documented "[default: V]" must be the default the code uses (the
 * gateway's JSON defaults, which come from core's recipe), and every JSON field must be documented there.
 */
class RequestDocumentationTest {

    private static final Path PROTO = Path.of("../../proto/cherryq/v1/request.proto");
    private static final Pattern FIELD = Pattern.compile("^\\s*(?:optional |repeated )?[\\w.]+ (\\w+) = \\d+;.*");
    private static final Pattern DEFAULT = Pattern.compile("\\[default: ([^\\]]*)\\]");
    /** (message.field) of the proto -> the JSON field, where the names differ. */
    private static final Map<String, String> JSON_NAMES = Map.of(
            "QatHyperparameters.learning_rate", "lr",
            "QatHyperparameters.mode", "training",
            "EvalSpec.windows_per_shard", "eval_windows_per_shard",
            "EvalSpec.batch_size", "eval_batch_size",
            "QuantizationRequest.calibration_data_uri", "calibration_data",
            "QuantizationRequest.train_data_uri", "train_data");

    /**
     * JSON field -> documented default. A field's documentation is the comment lines right above it, the comment on
     * its line, and the deeper-indented comment lines that continue it.
     */
    private static Map<String, String> documentedDefaults() throws IOException {
        Map<String, String> defaults = new LinkedHashMap<>();
        String message = "";
        String field = null;
        StringBuilder above = new StringBuilder();
        StringBuilder comment = new StringBuilder();
        for (String line : Files.readAllLines(PROTO)) {
            Matcher start = Pattern.compile("^message (\\w+) \\{").matcher(line);
            Matcher declaration = FIELD.matcher(line);
            String trimmed = line.trim();
            boolean continuation = trimmed.startsWith("//") && line.indexOf("//") >= 10;
            if (continuation && field != null) {
                comment.append(' ').append(trimmed.substring(2).trim());
                continue;
            }
            record(defaults, message, field, comment);
            field = null;
            comment.setLength(0);
            if (start.find()) {
                message = start.group(1);
            }
            if (declaration.matches()) {
                field = declaration.group(1);
                comment.append(above);
                above.setLength(0);
                int slashes = line.indexOf("//");
                if (slashes >= 0) {
                    comment.append(' ').append(line.substring(slashes + 2).trim());
                }
            } else if (trimmed.startsWith("//")) {
                above.append(' ').append(trimmed.substring(2).trim());
            } else {
                above.setLength(0);
            }
        }
        return defaults;
    }

    private static void record(Map<String, String> defaults, String message, String field, CharSequence comment) {
        if (field == null) {
            return;
        }
        Matcher value = DEFAULT.matcher(comment);
        if (value.find()) {
            defaults.put(JSON_NAMES.getOrDefault(message + "." + field, field), value.group(1).trim());
        }
    }

    @Test
    void shouldDocumentTheDefaultOfEveryJsonFieldAsTheCodeHasIt() throws IOException {
        Map<String, String> documented = documentedDefaults();
        assertTrue(documented.size() > 20, "found " + documented);
        for (Map.Entry<String, Object> field : JobRequestJson.FIELDS.entrySet()) {
            Object value = field.getValue();
            if (value == null) {
                continue; // required: no default
            }
            String name = field.getKey();
            assertTrue(documented.containsKey(name), name + " has no [default: ...] in " + PROTO);
            String text = value instanceof List<?> list ? String.join(", ", list.stream().map(String::valueOf).toList())
                    : String.valueOf(value);
            String doc = documented.get(name);
            if (value instanceof Float number) {
                assertEquals(number, Float.parseFloat(doc), 0, name);
            } else if (value instanceof Number number) {
                assertEquals(number.doubleValue(), Double.parseDouble(doc), 0, name);
            } else {
                assertEquals(text, doc, name);
            }
        }
    }
}
