package dev.cherryq.proto;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import dev.cherryq.proto.v1.Refs;
import dev.cherryq.proto.v1.Request;
import dev.cherryq.proto.v1.Status;
import dev.cherryq.proto.v1.Tasks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The published contract: every field and enum value of the last release (proto/compat/cherryq-v1.wire, one line
 * each: its number, name, type and cardinality) must still exist as it was. Renumbering, retyping, renaming (the
 * JSON encoding uses names) or removing one fails the build; adding is free. At a release the file is rewritten from
 * the schema with {@code ./mvnw -pl proto test -Dtest=WireCompatibilityTest -Dcherryq.proto.writeBaseline=true},
 * which, like any change to it, shows in review.
 */
class WireCompatibilityTest {

    private static final List<FileDescriptor> FILES = List.of(Refs.getDescriptor(), Request.getDescriptor(),
            Tasks.getDescriptor(), Status.getDescriptor());

    static Path baseline() {
        return Path.of(System.getProperty("cherryq.home", "..")).toAbsolutePath().normalize()
                .resolve("proto/compat/cherryq-v1.wire");
    }

    /** The schema as lines: "message M field N name TYPE cardinality" and "enum E value N NAME". */
    static Set<String> lines() {
        Set<String> lines = new TreeSet<>();
        for (FileDescriptor file : FILES) {
            file.getMessageTypes().forEach(message -> describe(message, lines));
            file.getEnumTypes().forEach(type -> describe(type, lines));
        }
        return lines;
    }

    private static void describe(Descriptor message, Set<String> lines) {
        for (FieldDescriptor field : message.getFields()) {
            String type = switch (field.getType()) {
                case MESSAGE -> field.getMessageType().getFullName();
                case ENUM -> field.getEnumType().getFullName();
                default -> field.getType().name().toLowerCase(java.util.Locale.ROOT);
            };
            lines.add("message " + message.getFullName() + " field " + field.getNumber() + " " + field.getName() + " "
                    + type + " " + (field.isRepeated() ? "repeated" : field.hasPresence() ? "optional" : "singular"));
        }
        message.getNestedTypes().forEach(nested -> describe(nested, lines));
        message.getEnumTypes().forEach(type -> describe(type, lines));
    }

    private static void describe(EnumDescriptor type, Set<String> lines) {
        for (EnumValueDescriptor value : type.getValues()) {
            lines.add("enum " + type.getFullName() + " value " + value.getNumber() + " " + value.getName());
        }
    }

    /** The baseline lines the schema no longer has as they were. */
    static List<String> broken(List<String> baseline, Set<String> current) {
        List<String> broken = new ArrayList<>();
        for (String line : baseline) {
            if (!line.isBlank() && !line.startsWith("#") && !current.contains(line)) {
                broken.add(line);
            }
        }
        return broken;
    }

    @Test
    void shouldKeepEveryFieldOfThePublishedSchema() throws Exception {
        Set<String> current = lines();
        if (Boolean.getBoolean("cherryq.proto.writeBaseline")) {
            List<String> file = new ArrayList<>(List.of("# The wire contract of the last release of cherryq.v1 "
                    + "(WireCompatibilityTest): every line must still hold.", "# Rewritten at a release with "
                    + "-Dcherryq.proto.writeBaseline=true; never edited to let a breaking change through."));
            file.addAll(current);
            Files.write(baseline(), file);
        }
        List<String> broken = broken(Files.readAllLines(baseline()), current);
        assertTrue(broken.isEmpty(), "the schema no longer has these fields or values of the last release, as they "
                + "were (a renumbered, retyped, renamed or removed field breaks producers and consumers of the "
                + "published contract; add a new field instead):\n  " + String.join("\n  ", broken));
    }

    @Test
    void shouldCatchARenumberedRetypedRenamedOrRemovedField() throws Exception {
        List<String> baseline = Files.readAllLines(baseline());
        String bits = "message cherryq.v1.QuantizationRequest field 8 bits int32 singular";
        assertTrue(baseline.contains(bits), "the example is in the baseline: " + bits);
        for (String changed : List.of(bits.replace("field 8", "field 80"), bits.replace("int32", "int64"),
                bits.replace(" bits ", " bit_width "), bits.replace("singular", "repeated"))) {
            Set<String> schema = new TreeSet<>(lines());
            schema.remove(bits);
            schema.add(changed);
            assertTrue(broken(baseline, schema).equals(List.of(bits)), "caught: " + changed);
        }
        Set<String> removed = new TreeSet<>(lines());
        removed.remove(bits);
        assertTrue(broken(baseline, removed).equals(List.of(bits)), "a removed field is caught");
        Set<String> added = new TreeSet<>(lines());
        added.add("message cherryq.v1.QuantizationRequest field 99 new_field string singular");
        assertTrue(broken(baseline, added).isEmpty(), "adding a field is free");
    }
}
