package dev.kvx.cli.soak;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The transport lanes UCX chose, read from a worker's UCX log written with {@code UCX_PROTO_INFO=y}
 * and {@code UCX_LOG_LEVEL=info}: each endpoint configuration's lanes ({@code ctx-lanes ... cfg#N
 * am(tcp/eth0) ...}) and the protocol that carries remote writes ({@code ucp_put}), which is where the
 * KV data goes.
 */
final class UcxLanes {
    private static final Pattern LANES = Pattern.compile("UCX\\s+INFO\\s+\\S+ ((?:self|intra-node|inter-node) cfg#\\d+)\\s+(\\S.*\\S)\\s*$");
    private static final Pattern TABLE = Pattern.compile("\\|\\s+\\S+ ((?:self|intra-node|inter-node) cfg#\\d+)\\s+\\|");
    private static final Pattern PUT_ROW = Pattern.compile("\\|\\s*0\\.\\.inf\\s*\\|\\s*(.*?)\\s*\\|\\s*(.*?)\\s*\\|");

    private UcxLanes() {}

    /**
     * Distinct lane sets ({@code inter-node cfg#1: am(tcp/eth0) ...}) and the protocol of remote writes
     * ({@code KV data (ucp_put, inter-node cfg#1): zero-copy tcp/eth0}) in these log files, in order of appearance.
     */
    static List<String> read(List<Path> logs) {
        Set<String> out = new LinkedHashSet<>();
        for (Path log : logs) {
            List<String> lines;
            try {
                lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                continue;
            }
            String table = null;
            boolean put = false;
            for (String line : lines) {
                Matcher m = LANES.matcher(line);
                if (m.find()) {
                    if (!m.group(1).startsWith("self")) { // the agent's endpoint to itself carries nothing between hosts
                        out.add(m.group(1) + ": " + m.group(2).replaceAll("\\s+", " "));
                    }
                    continue;
                }
                m = TABLE.matcher(line);
                if (m.find()) {
                    table = m.group(1);
                    put = false;
                    continue;
                }
                if (line.contains("remote memory write by ucp_put") && table != null) {
                    put = true;
                    continue;
                }
                m = PUT_ROW.matcher(line);
                if (put && m.find() && !table.startsWith("self")) {
                    out.add("KV data (ucp_put, " + table + "): " + m.group(1) + " " + m.group(2));
                    put = false;
                }
            }
        }
        return new ArrayList<>(out);
    }

    /** The UCX logs of one worker in the report folder ({@code <worker>.ucx.log}, {@code <worker>-2.ucx.log}, ...). */
    static List<Path> logsOf(Path dir, String worker) {
        try (var files = Files.list(dir)) {
            return files.filter(p -> {
                String n = p.getFileName().toString();
                return n.endsWith(".ucx.log") && (n.equals(worker + ".ucx.log") || n.matches(Pattern.quote(worker) + "-\\d+\\.ucx\\.log"));
            }).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
