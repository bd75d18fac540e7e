package dev.cherryq.bench.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cherryq.launcher.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fidelity table of {@code cherryq report}: one row per variant and bit width, its trained runs over several
 * seeds summarised as mean and sample standard deviation, the share of round-to-nearest's gap to full precision
 * each row recovers, and comparisons whose difference is set against the seeds' spread, so that a difference
 * smaller than the noise is called that.
 */
final class FidelityTable {

    /** One evaluated run. */
    record Run(String variant, int bits, long seed, double meanNll, double effectiveBits, String command) {}

    /** Every run of a variant at a width: the seeds' mean and sample standard deviation (0 for one run). */
    record Row(String variant, int bits, List<Run> runs) {

        double mean() {
            return runs.stream().mapToDouble(Run::meanNll).average().orElse(Double.NaN);
        }

        double spread() {
            if (runs.size() < 2) {
                return 0;
            }
            double mean = mean();
            return Math.sqrt(runs.stream().mapToDouble(run -> (run.meanNll() - mean) * (run.meanNll() - mean)).sum()
                    / (runs.size() - 1));
        }

        double effectiveBits() {
            return runs.stream().mapToDouble(Run::effectiveBits).average().orElse(Double.NaN);
        }
    }

    private final Map<String, Row> rows = new LinkedHashMap<>();

    void add(Run run) {
        rows.computeIfAbsent(run.variant() + "@" + run.bits(), key -> new Row(run.variant(), run.bits(),
                new ArrayList<>())).runs().add(run);
    }

    Row row(String variant, int bits) {
        return rows.get(variant + "@" + bits);
    }

    List<Row> rows() {
        return List.copyOf(rows.values());
    }

    /** The Markdown table of every row at the given widths, the fp row first. */
    String markdown(List<Integer> widths, List<String> variants) {
        Row fp = row("fp", 0);
        StringBuilder table = new StringBuilder("| variant | bits | bits per linear weight | mean NLL (nats) | seeds "
                + "| perplexity | share of RTN's gap recovered |\n|---|---:|---:|---:|---:|---:|---:|\n");
        if (fp != null) {
            table.append(String.format(Locale.ROOT, "| fp | - | %.2f | %.4f | - | %.3f | - |%n", fp.effectiveBits(),
                    fp.mean(), Math.exp(fp.mean())));
        }
        for (int bits : widths) {
            Row rtn = row("rtn", bits);
            for (String variant : variants) {
                Row row = row(variant, bits);
                if (row == null) {
                    continue;
                }
                String recovered = fp == null || rtn == null || variant.equals("rtn") ? "-" : String.format(
                        Locale.ROOT, "%.0f%%", 100 * (rtn.mean() - row.mean()) / (rtn.mean() - fp.mean()));
                table.append(String.format(Locale.ROOT, "| %s | %d | %.3f | %s | %d | %.3f | %s |%n", variant, bits,
                        row.effectiveBits(), meanWithSpread(row), row.runs().size(), Math.exp(row.mean()), recovered));
            }
        }
        return table.toString();
    }

    /** "3.0912" for one run, "3.0912 ± 0.0011" (sample sd over seeds) for several. */
    static String meanWithSpread(Row row) {
        return row.runs().size() < 2 ? String.format(Locale.ROOT, "%.4f", row.mean())
                : String.format(Locale.ROOT, "%.4f ± %.4f", row.mean(), row.spread());
    }

    /**
     * A sentence comparing two rows at a width: their difference against the larger of their seed spreads, called
     * "within the noise" when it is not larger than that spread.
     */
    String compare(String label, String better, String worse, int bits) {
        Row a = row(better, bits);
        Row b = row(worse, bits);
        if (a == null || b == null) {
            return "";
        }
        double difference = b.mean() - a.mean();
        double noise = Math.max(a.spread(), b.spread());
        String verdict = a.runs().size() < 2 || b.runs().size() < 2 ? "one seed each: no spread to judge it by"
                : Math.abs(difference) > noise ? (difference > 0 ? better + " is lower by more than the seed spread"
                        : worse + " is lower by more than the seed spread") : "within the noise";
        return String.format(Locale.ROOT, "- %s, %d bits: %s %s vs %s %s (%.3f vs %.3f bits per weight); "
                + "difference %+.4f nats, seed spread %.4f: %s.%n", label, bits, better, meanWithSpread(a), worse,
                meanWithSpread(b), a.effectiveBits(), b.effectiveBits(), difference, noise, verdict);
    }

    /** Every run, for report.json. */
    ArrayNode json() {
        ArrayNode array = Json.MAPPER.createArrayNode();
        for (Row row : rows.values()) {
            ObjectNode node = array.addObject().put("variant", row.variant()).put("bits", row.bits())
                    .put("mean_nll", row.mean()).put("perplexity", Math.exp(row.mean()))
                    .put("seed_sd", row.spread()).put("effective_bits", row.effectiveBits());
            ArrayNode runs = node.putArray("runs");
            row.runs().forEach(run -> runs.addObject().put("seed", run.seed()).put("mean_nll", run.meanNll())
                    .put("effective_bits", run.effectiveBits()).put("command", run.command()));
        }
        return array;
    }
}
