package dev.cherryq.launcher.output;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/** A headless Java2D line chart written as PNG: title, axis labels, nice ticks, several series and a legend. */
public final class LinePlot {

    public static final int WIDTH = 900;
    public static final int HEIGHT = 500;
    private static final int LEFT = 80;
    private static final int RIGHT = 30;
    private static final int TOP = 50;
    private static final int BOTTOM = 60;
    private static final Color[] PALETTE = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44),
        new Color(214, 39, 40), new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194),
        new Color(127, 127, 127)};

    private record Series(String name, double[] x, double[] y, Color color, float width, boolean dots) {}

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();

    public LinePlot(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    public LinePlot series(String name, double[] x, double[] y) {
        return series(name, x, y, PALETTE[series.size() % PALETTE.length], 2f);
    }

    public LinePlot series(String name, double[] x, double[] y, Color color, float width) {
        if (x.length != y.length) {
            throw new IllegalArgumentException(name + ": " + x.length + " x values for " + y.length + " y values");
        }
        series.add(new Series(name, x, y, color, width, false));
        return this;
    }

    /** Points only, no connecting line (a scatter plot). */
    public LinePlot scatter(String name, double[] x, double[] y) {
        if (x.length != y.length) {
            throw new IllegalArgumentException(name + ": " + x.length + " x values for " + y.length + " y values");
        }
        series.add(new Series(name, x, y, PALETTE[series.size() % PALETTE.length], 1f, true));
        return this;
    }

    /** Large points, no line: a few labelled positions (one per variant, say) that must stand out. */
    public LinePlot points(String name, double[] x, double[] y) {
        if (x.length != y.length) {
            throw new IllegalArgumentException(name + ": " + x.length + " x values for " + y.length + " y values");
        }
        series.add(new Series(name, x, y, PALETTE[series.size() % PALETTE.length], 10f, true));
        return this;
    }

    /** Several charts side by side in one PNG, {@code columns} per row. */
    public static void writeGrid(java.util.List<LinePlot> plots, int columns, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int rows = (plots.size() + columns - 1) / columns;
        BufferedImage image = new BufferedImage(columns * WIDTH, rows * HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        for (int i = 0; i < plots.size(); i++) {
            Graphics2D cell = (Graphics2D) g.create((i % columns) * WIDTH, (i / columns) * HEIGHT, WIDTH, HEIGHT);
            plots.get(i).draw(cell);
            cell.dispose();
        }
        g.dispose();
        save(image, png);
    }

    /** Draws the chart; the caller decides whether a failure (no fonts, say) matters. */
    public void write(Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        draw(g);
        g.dispose();
        save(image, png);
    }

    private static void save(BufferedImage image, Path png) throws IOException {
        if (png.getParent() != null) {
            Files.createDirectories(png.getParent());
        }
        ImageIO.write(image, "png", png.toFile());
    }

    /** Renders into a WIDTH x HEIGHT area at the graphics' origin. */
    void draw(Graphics2D g) {
        double minX = Double.POSITIVE_INFINITY;
        double maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY;
        double maxY = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.y()[i])) {
                    minX = Math.min(minX, s.x()[i]);
                    maxX = Math.max(maxX, s.x()[i]);
                    minY = Math.min(minY, s.y()[i]);
                    maxY = Math.max(maxY, s.y()[i]);
                }
            }
        }
        if (!(maxX > minX)) {
            maxX = minX + 1;
        }
        if (!(maxY > minY)) {
            maxY = minY + 1;
        }
        if (series.stream().anyMatch(s -> s.dots() && s.width() > 1)) { // large points: keep them inside the frame
            double padX = 0.05 * (maxX - minX);
            double padY = 0.05 * (maxY - minY);
            minX -= padX;
            maxX += padX;
            minY -= padY;
            maxY += padY;
        }
        double[] yTicks = ticks(minY, maxY);
        double[] xTicks = ticks(minX, maxX);
        minY = Math.min(minY, yTicks[0]);
        maxY = Math.max(maxY, yTicks[yTicks.length - 1]);
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);
        int plotWidth = WIDTH - LEFT - RIGHT;
        int plotHeight = HEIGHT - TOP - BOTTOM;
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
        g.setFont(font);
        FontMetrics metrics = g.getFontMetrics();
        // grid and ticks
        for (double tick : yTicks) {
            int y = TOP + (int) Math.round(plotHeight * (1 - (tick - minY) / (maxY - minY)));
            g.setColor(new Color(230, 230, 230));
            g.drawLine(LEFT, y, LEFT + plotWidth, y);
            g.setColor(Color.DARK_GRAY);
            String label = format(tick);
            g.drawString(label, LEFT - 8 - metrics.stringWidth(label), y + 4);
        }
        for (double tick : xTicks) {
            if (tick < minX || tick > maxX) {
                continue;
            }
            int x = LEFT + (int) Math.round(plotWidth * (tick - minX) / (maxX - minX));
            g.setColor(new Color(230, 230, 230));
            g.drawLine(x, TOP, x, TOP + plotHeight);
            g.setColor(Color.DARK_GRAY);
            String label = format(tick);
            g.drawString(label, x - metrics.stringWidth(label) / 2, TOP + plotHeight + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, plotWidth, plotHeight);
        // series
        for (Series s : series) {
            if (s.dots()) {
                g.setColor(s.color());
                for (int i = 0; i < s.x().length; i++) {
                    if (Double.isFinite(s.y()[i])) {
                        double px = LEFT + plotWidth * (s.x()[i] - minX) / (maxX - minX);
                        double py = TOP + plotHeight * (1 - (s.y()[i] - minY) / (maxY - minY));
                        int diameter = s.width() > 1 ? Math.round(s.width()) : 4; // scatter 4 px, points larger
                        g.fillOval((int) Math.round(px) - diameter / 2, (int) Math.round(py) - diameter / 2, diameter,
                                diameter);
                    }
                }
                continue;
            }
            Path2D.Double path = new Path2D.Double();
            boolean started = false;
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.y()[i])) {
                    continue;
                }
                double px = LEFT + plotWidth * (s.x()[i] - minX) / (maxX - minX);
                double py = TOP + plotHeight * (1 - (s.y()[i] - minY) / (maxY - minY));
                if (started) {
                    path.lineTo(px, py);
                } else {
                    path.moveTo(px, py);
                    started = true;
                }
            }
            g.setColor(s.color());
            g.setStroke(new BasicStroke(s.width()));
            g.draw(path);
        }
        // title, labels, legend
        g.setColor(Color.BLACK);
        g.setFont(font.deriveFont(Font.BOLD, 15f));
        g.drawString(title, LEFT, 30);
        g.setFont(font);
        g.drawString(xLabel, LEFT + plotWidth / 2 - metrics.stringWidth(xLabel) / 2, HEIGHT - 15);
        Graphics2D rotated = (Graphics2D) g.create();
        rotated.rotate(-Math.PI / 2);
        rotated.drawString(yLabel, -(TOP + plotHeight / 2 + metrics.stringWidth(yLabel) / 2), 18);
        rotated.dispose();
        int legendY = TOP + 16;
        for (Series s : series) {
            int legendX = LEFT + plotWidth - 12 - metrics.stringWidth(s.name()) - 30;
            g.setColor(s.color());
            g.setStroke(new BasicStroke(3f));
            g.drawLine(legendX, legendY - 4, legendX + 22, legendY - 4);
            g.setColor(Color.BLACK);
            g.drawString(s.name(), legendX + 28, legendY);
            legendY += 18;
        }
    }

    /** About five round tick values covering [min, max]. */
    static double[] ticks(double min, double max) {
        double rough = (max - min) / 5;
        double magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
        double step = magnitude * (rough / magnitude < 1.5 ? 1 : rough / magnitude < 3 ? 2 : rough / magnitude < 7 ? 5 : 10);
        double first = Math.floor(min / step) * step;
        List<Double> values = new ArrayList<>();
        for (double v = first; v <= max + step * 0.999; v += step) {
            values.add(v);
        }
        return values.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static String format(double value) {
        if (value == Math.rint(value) && Math.abs(value) < 1e7) {
            return String.format("%d", (long) value);
        }
        return String.format(Math.abs(value) >= 10 ? "%.1f" : "%.2f", value);
    }

    /** Trailing moving average over {@code window} points. */
    public static double[] movingAverage(double[] values, int window) {
        double[] out = new double[values.length];
        double sum = 0;
        for (int i = 0; i < values.length; i++) {
            sum += values[i];
            if (i >= window) {
                sum -= values[i - window];
            }
            out[i] = sum / Math.min(i + 1, window);
        }
        return out;
    }
}
