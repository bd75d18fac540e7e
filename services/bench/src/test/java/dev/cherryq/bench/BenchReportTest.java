package dev.cherryq.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The soak's verdict: idle workers' fitted growth from job 20 to the last, against 5%, per worker; its figures. */
class BenchReportTest {

    @TempDir
    Path dir;

    /** RSS after each of {@code jobs} jobs: 500 MiB rising to {@code warm} by job 20, then linear to {@code last}. */
    private static List<Double> samples(int jobs, double warm, double last) {
        List<Double> rss = new ArrayList<>();
        for (int job = 1; job <= jobs; job++) {
            rss.add(job <= 20 ? 500 + (warm - 500) * job / 20 : warm + (last - warm) * (job - 20) / (jobs - 20));
        }
        return rss;
    }

    @Test
    void shouldJudgeTheIdleSamplesFittedGrowthFromTheTwentiethJobAndDrawIt() throws IOException {
        Map<String, List<Double>> afterJob = new LinkedHashMap<>();
        afterJob.put("trainer-1", samples(40, 800, 840)); // +5.0%, though it grew 340 MiB from job 1
        afterJob.put("selector-1", samples(40, 300, 316)); // +5.3%: shown, not judged
        afterJob.put("scorer-1", samples(40, 300, 300));
        afterJob.put("evaluator-1", List.of(600.0, 610.0, 620.0));
        Map<String, List<Double>> idle = new LinkedHashMap<>();
        idle.put("trainer-1", samples(40, 700, 770)); // +10.0%
        idle.put("selector-1", samples(40, 300, 303)); // +1.0%
        List<Double> flat = new ArrayList<>(samples(40, 300, 300));
        flat.set(19, 285.0); // job 20 caught low
        flat.set(39, 320.0); // the last job caught high: +12.3% by two samples
        idle.put("scorer-1", flat);
        idle.put("evaluator-1", List.of(500.0, 505.0, 510.0));
        FleetBench.Soak run = new FleetBench.Soak(afterJob, idle, 30.2);
        String table = BenchReport.soakTable(run);
        int split = table.indexOf("right after each job");
        String idleTable = table.substring(0, split);
        String afterJobTable = table.substring(split);
        assertTrue(idleTable.contains("the fleet idle"), table);
        assertTrue(idleTable.contains("| trainer-1 | 40 | 510 | 700 | 770 | 770 | +10.0% | +10.0% | MISSED |"), idleTable);
        assertTrue(idleTable.contains("| selector-1 | 40 | 490 | 300 | 303 | 490 | +1.0% | +1.0% | met |"), idleTable);
        double fitted = 100 * BenchReport.fittedGrowth(flat);
        assertTrue(fitted < 5, "fitted " + fitted);
        assertTrue(idleTable.contains(String.format(Locale.ROOT,
                "| scorer-1 | 40 | 490 | 285 | 320 | 490 | +12.3%% | %+.1f%% | met |", fitted)), idleTable);
        assertTrue(idleTable.contains("| evaluator-1 | 3 | 500 | - | 510 | 510 | - | - | fewer than 21 jobs: not judged |"),
                idleTable);
        assertTrue(afterJobTable.contains("| trainer-1 | 40 | 515 | 800 | 840 | 840 | +5.0% | +5.0% |\n"), afterJobTable);
        assertTrue(afterJobTable.contains("| selector-1 | 40 | 490 | 300 | 316 | 490 | +5.3% | +5.3% |\n"), afterJobTable);
        assertTrue(!afterJobTable.contains("MISSED") && !afterJobTable.contains(" met |"), afterJobTable);
        Path png = dir.resolve(BenchReport.SOAK_FIGURE);
        Path idlePng = dir.resolve(BenchReport.SOAK_IDLE_FIGURE);
        BenchReport.drawSoak(run, png, idlePng);
        assertTrue(Files.size(png) > 1000 && Files.size(idlePng) > 1000);
        String tsv = BenchReport.soakSamples(run);
        assertTrue(tsv.startsWith("job\tworker\tafter_job_mib\tidle_mib\n1\ttrainer-1\t515.0\t510.0\n"), tsv);
        assertEquals(1 + 40 + 40 + 40 + 3, tsv.lines().count());
    }

    @Test
    void shouldReadTheFittedGrowthFromEverySampleNotTwo() {
        List<Double> flat = new ArrayList<>(samples(60, 300, 300)); // flat from job 20 on
        flat.set(19, 285.0); // job 20 caught low
        flat.set(59, 320.0); // the last job caught high
        double endpoints = (320.0 - 285.0) / 285.0;
        double fitted = BenchReport.fittedGrowth(flat);
        assertTrue(endpoints > 0.12 && Math.abs(fitted) < 0.03, "endpoints " + endpoints + ", fitted " + fitted);
        assertEquals(0.10, BenchReport.fittedGrowth(samples(60, 300, 330)), 1e-9, "a straight line: the endpoints'");
    }

    @Test
    void shouldSetTheFleetAgainstTheSameRowsInOneProcess() {
        BenchStats stats = new BenchStats();
        stats.add("main in-process", 150);
        stats.add("main embedded", 165);
        stats.add("ratio main", 1.1);
        LatestRuns latest = new LatestRuns();
        latest.mainInProcess(new MainJobBench.Side(150, Map.of("cherryq", 3.0870)));
        latest.mainEmbedded(new MainJobBench.Side(165, Map.of("cherryq", 3.0872)));
        String section = BenchReport.mainJob(stats, latest);
        assertTrue(section.contains("cherryq 3.0870 / 3.0872") && section.contains("**Missed: 1.10x.**"), section);
        assertTrue(BenchReport.mainJob(new BenchStats(), new LatestRuns()).contains("Not measured"));
    }
}
