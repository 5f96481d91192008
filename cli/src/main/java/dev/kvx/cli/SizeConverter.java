package dev.kvx.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** Reads a byte size: {@code 4096}, {@code 64KiB}, {@code 64MiB}, {@code 1GiB} (also {@code K}, {@code M}, {@code G}, {@code B}). */
public final class SizeConverter implements CommandLine.ITypeConverter<Long> {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|K|KIB|M|MIB|G|GIB)?");

    /** Creates the converter (picocli instantiates it). */
    public SizeConverter() {}

    @Override
    public Long convert(String value) {
        return parse(value);
    }

    /**
     * Parses a size.
     *
     * @param value the text, e.g. {@code 64MiB}
     * @return the size in bytes
     * @throws CommandLine.TypeConversionException naming the text and the accepted forms
     */
    public static long parse(String value) {
        Matcher m = SIZE.matcher(value.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new CommandLine.TypeConversionException("cannot read size '" + value + "' (examples: 4096, 64KiB, 64MiB, 1GiB)");
        }
        int shift = switch (m.group(2) == null ? "B" : m.group(2)) {
            case "K", "KIB" -> 10;
            case "M", "MIB" -> 20;
            case "G", "GIB" -> 30;
            default -> 0;
        };
        try {
            return Math.multiplyExact(Long.parseLong(m.group(1)), 1L << shift);
        } catch (ArithmeticException | NumberFormatException e) {
            throw new CommandLine.TypeConversionException("size '" + value + "' is too large");
        }
    }

    /**
     * Formats a size with the largest binary unit that divides it.
     *
     * @param bytes the size
     * @return e.g. {@code 64 MiB}
     */
    public static String human(long bytes) {
        if (bytes != 0 && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes != 0 && bytes % (1L << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes != 0 && bytes % (1L << 10) == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }
}
