package dev.cherryq.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The subset of Kustomize (kustomize.config.k8s.io/v1beta1) that deploy/ uses, so the build can check what
 * {@code kubectl apply -k} would apply without a kustomize binary: resources (files and folders), namespace,
 * images, JSON 6902 patches with a kind/name target, and configMapGenerator with files. Any other field fails the
 * build instead of being ignored, so a manifest cannot use a feature these checks do not understand.
 */
final class Kustomize {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> KNOWN_FIELDS = Set.of("apiVersion", "kind", "namespace", "resources", "images",
            "patches", "configMapGenerator");
    private static final Set<String> CLUSTER_SCOPED = Set.of("Namespace");

    private Kustomize() {}

    /** Every YAML document in a file, as JSON trees (anchors and merge keys resolved). */
    static List<ObjectNode> readYaml(Path file) {
        try {
            LoaderOptions options = new LoaderOptions();
            options.setMaxAliasesForCollections(100);
            List<ObjectNode> documents = new ArrayList<>();
            for (Object document : new Yaml(options).loadAll(Files.readString(file))) {
                if (document != null) {
                    documents.add((ObjectNode) JSON.valueToTree(document));
                }
            }
            return documents;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The resources {@code kubectl apply -k folder} would apply. */
    static List<ObjectNode> build(Path folder) {
        ObjectNode kustomization = readYaml(folder.resolve("kustomization.yaml")).get(0);
        kustomization.fieldNames().forEachRemaining(field -> {
            if (!KNOWN_FIELDS.contains(field)) {
                throw new AssertionError(folder + "/kustomization.yaml: field '" + field
                        + "' is not understood by these checks; extend Kustomize.java first");
            }
        });
        List<ObjectNode> resources = new ArrayList<>();
        for (JsonNode entry : kustomization.path("resources")) {
            Path path = folder.resolve(entry.asText()).normalize();
            resources.addAll(Files.isDirectory(path) ? build(path) : readYaml(path));
        }
        for (JsonNode generator : kustomization.path("configMapGenerator")) {
            resources.add(configMap(folder, generator));
        }
        for (JsonNode patch : kustomization.path("patches")) {
            String kind = patch.path("target").path("kind").asText();
            String name = patch.path("target").path("name").asText();
            List<ObjectNode> targets = resources.stream().filter(r -> r.path("kind").asText().equals(kind)
                    && r.path("metadata").path("name").asText().equals(name)).toList();
            if (targets.size() != 1) {
                throw new AssertionError(folder + ": patch target " + kind + "/" + name + " matches " + targets.size()
                        + " resources");
            }
            List<Object> operations = new Yaml().load(patch.path("patch").asText());
            for (Object operation : operations) {
                apply(targets.get(0), JSON.valueToTree(operation));
            }
        }
        for (JsonNode image : kustomization.path("images")) {
            for (ObjectNode resource : resources) {
                for (JsonNode container : resource.at("/spec/template/spec/containers")) {
                    if (container.path("image").asText().equals(image.path("name").asText())) {
                        ((ObjectNode) container).put("image", image.path("newName").asText() + ":"
                                + image.path("newTag").asText());
                    }
                }
            }
        }
        if (kustomization.has("namespace")) {
            for (ObjectNode resource : resources) {
                if (!CLUSTER_SCOPED.contains(resource.path("kind").asText())) {
                    ((ObjectNode) resource.path("metadata")).put("namespace", kustomization.path("namespace").asText());
                }
            }
        }
        return resources;
    }

    private static ObjectNode configMap(Path folder, JsonNode generator) {
        ObjectNode map = JSON.createObjectNode().put("apiVersion", "v1").put("kind", "ConfigMap");
        ObjectNode metadata = map.putObject("metadata").put("name", generator.path("name").asText());
        if (generator.at("/options/labels").isObject()) {
            metadata.set("labels", generator.at("/options/labels").deepCopy());
        }
        ObjectNode data = map.putObject("data");
        for (JsonNode file : generator.path("files")) {
            Path path = folder.resolve(file.asText());
            try {
                data.put(path.getFileName().toString(), Files.readString(path));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return map;
    }

    /** One RFC 6902 operation (add, replace, remove) on the resource. */
    private static void apply(ObjectNode resource, JsonNode operation) {
        String op = operation.path("op").asText();
        String[] tokens = operation.path("path").asText().substring(1).split("/");
        JsonNode parent = resource;
        for (int i = 0; i < tokens.length - 1; i++) {
            String token = unescape(tokens[i]);
            JsonNode next = parent.isArray() ? parent.path(Integer.parseInt(token)) : parent.path(token);
            if (next.isMissingNode()) {
                throw new AssertionError("patch path " + operation.path("path").asText() + ": '" + token + "' is missing");
            }
            parent = next;
        }
        String last = unescape(tokens[tokens.length - 1]);
        switch (op) {
            case "add", "replace" -> {
                if (parent instanceof ObjectNode object) {
                    if (op.equals("replace") && !object.has(last)) {
                        throw new AssertionError("replace of a missing field: " + operation.path("path").asText());
                    }
                    object.set(last, operation.path("value").deepCopy());
                } else if (parent instanceof ArrayNode array) {
                    if (last.equals("-")) {
                        array.add(operation.path("value").deepCopy());
                    } else {
                        array.insert(Integer.parseInt(last), operation.path("value").deepCopy());
                    }
                } else {
                    throw new AssertionError("patch path " + operation.path("path").asText() + " has no parent");
                }
            }
            case "remove" -> {
                if (parent instanceof ObjectNode object && object.has(last)) {
                    object.remove(last);
                } else {
                    throw new AssertionError("remove of a missing field: " + operation.path("path").asText());
                }
            }
            default -> throw new AssertionError("patch operation '" + op + "' is not understood by these checks");
        }
    }

    private static String unescape(String token) {
        return token.replace("~1", "/").replace("~0", "~");
    }

    /** The resources of one kind. */
    static List<ObjectNode> ofKind(List<ObjectNode> resources, String kind) {
        return resources.stream().filter(r -> r.path("kind").asText().equals(kind)).toList();
    }

    /** The one resource of a kind and name, or a failed check naming it. */
    static ObjectNode named(List<ObjectNode> resources, String kind, String name) {
        List<ObjectNode> found = resources.stream().filter(r -> r.path("kind").asText().equals(kind)
                && r.path("metadata").path("name").asText().equals(name)).toList();
        if (found.size() != 1) {
            throw new AssertionError("expected one " + kind + " named " + name + ", found " + found.size());
        }
        return found.get(0);
    }
}
