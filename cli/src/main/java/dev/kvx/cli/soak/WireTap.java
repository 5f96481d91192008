package dev.kvx.cli.soak;

import dev.kvx.transceiver.FaultInjector;
import dev.kvx.transceiver.TransferPhase;
import dev.kvx.transceiver.internal.wire.WireCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A soak worker's fault plan plus an eavesdropper on its wire, for {@code kvx soak --hostile-peer}: keeps
 * the first handshake frames and the latest session frames this worker sent ({@link FaultInjector#sent}:
 * framed and MAC'd, as they crossed the network, where kvx's messages are authenticated but not
 * encrypted) and writes them to a file the hostile peer replays and tampers with, as if it had captured
 * them. The file: a line {@code from <this worker's name>}, then one line {@code <peer> <hex frame>} each,
 * replaced whole (written aside, then moved into place).
 */
final class WireTap implements FaultInjector {
    private static final int HANDSHAKE_FRAMES = 8;
    private static final int LATEST_FRAMES = 256;
    private final FaultInjector plan;
    private final String self;
    private final List<String> handshake = new ArrayList<>();
    private final ArrayDeque<String> latest = new ArrayDeque<>();
    private long seen;
    private long written = -1;
    private long writtenAtNanos;

    WireTap(FaultInjector plan, String self) {
        this.plan = plan;
        this.self = self;
    }

    @Override
    public void sent(String peer, byte[] frame) {
        String line = peer + " " + HexFormat.of().formatHex(frame);
        synchronized (this) {
            seen++;
            if (handshake.size() < HANDSHAKE_FRAMES && isHandshake(frame)) {
                handshake.add(line);
                return;
            }
            latest.addLast(line);
            if (latest.size() > LATEST_FRAMES) {
                latest.removeFirst();
            }
        }
    }

    private static boolean isHandshake(byte[] frame) {
        try {
            return WireCodec.checkHeader(frame).usesHandshakeKey();
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Writes what was captured to {@code file} if anything new was sent since the last write, at most once a second. */
    void writeTo(Path file) throws IOException {
        List<String> lines = new ArrayList<>();
        synchronized (this) {
            long now = System.nanoTime();
            if (seen == written || written >= 0 && now - writtenAtNanos < 1_000_000_000L) {
                return;
            }
            written = seen;
            writtenAtNanos = now;
            lines.add("from " + self);
            lines.addAll(handshake);
            lines.addAll(latest);
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, lines, StandardCharsets.US_ASCII);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public void beforeStep(long requestId, TransferPhase phase) {
        plan.beforeStep(requestId, phase);
    }

    @Override
    public boolean dropOutgoing(Message message, long requestId) {
        return plan.dropOutgoing(message, requestId);
    }

    @Override
    public boolean withholdTransfer(long requestId) {
        return plan.withholdTransfer(requestId);
    }

    @Override
    public Duration lateTransfer(long requestId) {
        return plan.lateTransfer(requestId);
    }
}
