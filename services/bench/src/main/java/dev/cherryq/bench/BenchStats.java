package dev.cherryq.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Named measurements collected over the benchmark's runs, summarized as min / median / max. */
final class BenchStats {

    private final Map<String, List<Double>> values = new LinkedHashMap<>();

    void add(String name, double value) {
        values.computeIfAbsent(name, key -> new ArrayList<>()).add(value);
    }

    boolean has(String name) {
        return values.containsKey(name) && !values.get(name).isEmpty();
    }

    List<Double> all(String name) {
        return values.getOrDefault(name, List.of());
    }

    double median(String name) {
        List<Double> sorted = new ArrayList<>(all(name));
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    double min(String name) {
        return all(name).stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    double max(String name) {
        return all(name).stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    /** "median (min-max)" with the given format, or "n/a" when nothing was measured. */
    String cell(String name, String format) {
        if (!has(name)) {
            return "n/a";
        }
        return String.format(Locale.ROOT, format + " (" + format + " - " + format + ")", median(name), min(name), max(name));
    }

    int runs(String name) {
        return all(name).size();
    }
}
