package dev.cherryq.it;

/** Reads sample values out of a Prometheus text exposition. */
final class Metrics {

    private Metrics() {}

    /** The sum of every sample of {@code name} (any labels). */
    static int sum(String exposition, String name) {
        double total = 0;
        for (String line : exposition.split("\n")) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return (int) Math.round(total);
    }

    /** The value of the sample {@code name{labels}}, or 0 when absent. */
    static double value(String exposition, String name, String labels) {
        String prefix = name + "{" + labels + "} ";
        for (String line : exposition.split("\n")) {
            if (line.startsWith(prefix)) {
                return Double.parseDouble(line.substring(prefix.length()).trim());
            }
        }
        return 0;
    }
}
