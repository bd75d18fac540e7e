package dev.cherryq.fleet.job;

import dev.cherryq.core.model.LlamaTensorNames;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a job's cherry selection splits into tasks: one group per decoder layer, holding that layer's linear weights
 * in the model's order (tensors outside the decoder layers, if a partial ever holds any, form one last group). A
 * scorer writes its partial as one object per group and the selector runs one selection task per group, so no
 * selection task reads more than its group's share of the partials. Pure: names in, groups out.
 */
public final class SelectionGroups {

    private SelectionGroups() {}

    /**
     * The groups of {@code names} (a partial's tensors, in order): the outer list is indexed by group, each inner list
     * keeps the names' order. Concatenated in group order they give {@code names} back when the names are sorted by
     * layer, as {@link LlamaTensorNames#linearWeights} lists them.
     */
    public static List<List<String>> of(Iterable<String> names) {
        Map<Integer, List<String>> byLayer = new LinkedHashMap<>();
        List<String> outside = new ArrayList<>();
        for (String name : names) {
            int layer = LlamaTensorNames.layerOf(name);
            if (layer < 0) {
                outside.add(name);
            } else {
                byLayer.computeIfAbsent(layer, key -> new ArrayList<>()).add(name);
            }
        }
        List<List<String>> groups = new ArrayList<>();
        byLayer.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(entry -> groups.add(entry.getValue()));
        if (!outside.isEmpty()) {
            groups.add(outside);
        }
        return groups;
    }
}
