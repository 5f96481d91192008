package dev.kvx.cli.browser;

import java.awt.image.BufferedImage;

/** Pixel counts inside a box of a screenshot: whether a chart drew anything, and in which colours. */
public final class ChartPixels {
    private ChartPixels() {}

    /**
     * The share of pixels in the box that are not (near) white.
     *
     * @param image the screenshot
     * @param box where the chart is
     * @return 0 for a blank box, up to 1
     */
    public static double inkFraction(BufferedImage image, PageCapture.Box box) {
        long[] counts = count(image, box, rgb -> channel(rgb, 16) < 235 || channel(rgb, 8) < 235 || channel(rgb, 0) < 235);
        return counts[1] == 0 ? 0 : counts[0] / (double) counts[1];
    }

    /**
     * Pixels in the box within a tolerance of a colour (e.g. a data series' colour).
     *
     * @param image the screenshot
     * @param box where the chart is
     * @param rgb the colour, {@code 0xRRGGBB}
     * @param tolerance the largest difference per channel
     * @return how many pixels match
     */
    public static long near(BufferedImage image, PageCapture.Box box, int rgb, int tolerance) {
        return count(image, box, p -> Math.abs(channel(p, 16) - channel(rgb, 16)) <= tolerance
                && Math.abs(channel(p, 8) - channel(rgb, 8)) <= tolerance && Math.abs(channel(p, 0) - channel(rgb, 0)) <= tolerance)[0];
    }

    private static long[] count(BufferedImage image, PageCapture.Box box, java.util.function.IntPredicate match) {
        int x0 = Math.max(0, (int) Math.floor(box.x()));
        int y0 = Math.max(0, (int) Math.floor(box.y()));
        int x1 = Math.min(image.getWidth(), (int) Math.ceil(box.x() + box.width()));
        int y1 = Math.min(image.getHeight(), (int) Math.ceil(box.y() + box.height()));
        long hits = 0;
        long all = 0;
        for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) {
                all++;
                if (match.test(image.getRGB(x, y) & 0xFFFFFF)) {
                    hits++;
                }
            }
        }
        return new long[] {hits, all};
    }

    private static int channel(int rgb, int shift) {
        return (rgb >> shift) & 0xFF;
    }
}
