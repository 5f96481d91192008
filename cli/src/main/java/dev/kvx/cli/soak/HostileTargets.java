package dev.kvx.cli.soak;

import dev.kvx.nixl.NixlAgent;
import dev.kvx.transceiver.internal.wire.MacKey;
import dev.kvx.transceiver.internal.wire.PoolInfo;
import dev.kvx.transceiver.internal.wire.WireCodec;
import dev.kvx.transceiver.internal.wire.WireMessage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The hostile peer's reach into the victims' NIXL agents: for every leaked metadata file, the victim's
 * name, and hand-made agents that loaded that metadata — one under each <i>other</i> victim's name (NIXL
 * puts the sender's claimed name into every notification) and one under the hostile peer's own name. A
 * file that changes (a victim restarted) is loaded again. Also makes the forged frames: request messages
 * for sessions it cannot know, handshakes signed under a guessed secret, garbage. Not thread-safe.
 */
final class HostileTargets implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(HostileTargets.class.getName());

    /** What the hostile peer sends, for the summary: forged messages of each kind, and flood announcements. */
    enum Kind { ABORT, ANNOUNCE, DONE, RELEASED, HELLO, GARBAGE, FLOOD }

    /** The kinds {@link #sendForged} picks from. */
    private static final Kind[] FORGED = {Kind.ABORT, Kind.ANNOUNCE, Kind.DONE, Kind.RELEASED, Kind.HELLO, Kind.GARBAGE};
    /** Blocks in each flood announcement (16 KiB: big, under the notification cap). */
    private static final int FLOOD_BLOCKS = 4096;

    /** One victim: its name and the agents that reach it. */
    private record Victim(Path file, FileTime loaded, String name, List<NixlAgent> senders) {}

    private final List<Path> files;
    private final String ownName;
    private final Map<Path, Victim> victims = new LinkedHashMap<>();
    private final SplittableRandom random;
    private final long idFrom;
    private final long idTo;
    private final Map<Kind, Long> sent = new EnumMap<>(Kind.class);
    private long sendFailures;
    private long attempted;
    private int next;

    HostileTargets(List<Path> files, String ownName, long seed, long idFrom, long idTo) {
        this.files = files;
        this.ownName = ownName;
        this.random = new SplittableRandom(seed);
        this.idFrom = idFrom;
        this.idTo = idTo;
        for (Kind k : Kind.values()) {
            sent.put(k, 0L);
        }
    }

    /** Loads new or changed metadata files (a missing file is waited for); returns the victims' names. */
    List<String> refresh() {
        boolean changed = false;
        for (Path f : files) {
            try {
                FileTime t = Files.getLastModifiedTime(f);
                Victim v = victims.get(f);
                if (v == null || !v.loaded().equals(t)) {
                    if (v != null) {
                        v.senders().forEach(NixlAgent::close);
                    }
                    byte[] md = Files.readAllBytes(f);
                    victims.put(f, new Victim(f, t, peek(md), new ArrayList<>()));
                    changed = true;
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "metadata file " + f + " not usable yet: " + e);
            }
        }
        if (changed) {
            for (Victim v : victims.values()) {
                v.senders().forEach(NixlAgent::close);
                v.senders().clear();
                List<String> names = new ArrayList<>();
                for (Victim o : victims.values()) {
                    if (o != v) {
                        names.add(o.name()); // take the other victims' names
                    }
                }
                names.add(ownName);
                for (String n : names) {
                    try {
                        NixlAgent a = NixlAgent.createWithUcx(n);
                        a.loadRemoteMetadata(Files.readAllBytes(v.file()));
                        v.senders().add(a);
                    } catch (IOException | RuntimeException e) {
                        LOG.log(System.Logger.Level.WARNING, "hostile peer: cannot reach " + v.name() + " as " + n + ": " + e.getMessage());
                    }
                }
            }
        }
        return victims.values().stream().map(Victim::name).toList();
    }

    /** The agent name in a metadata blob, read by loading it into a scratch agent. */
    private String peek(byte[] md) {
        try (NixlAgent scratch = NixlAgent.createWithUcx(ownName + "-reader-" + random.nextInt(1 << 30))) {
            return scratch.loadRemoteMetadata(md);
        }
    }

    /** Sends one forged message from the next agent, round robin over victims and names. */
    void sendForged() {
        List<NixlAgent> all = new ArrayList<>();
        List<String> to = new ArrayList<>();
        for (Victim v : victims.values()) {
            for (NixlAgent a : v.senders()) {
                all.add(a);
                to.add(v.name());
            }
        }
        attempted++;
        if (all.isEmpty()) {
            return;
        }
        int i = Math.floorMod(next++, all.size());
        Kind kind = FORGED[random.nextInt(FORGED.length)];
        if (send(all.get(i), to.get(i), frame(kind, all.get(i).name()))) {
            sent.merge(kind, 1L, Long::sum);
        }
    }

    /** Sends {@code n} announcements of {@value #FLOOD_BLOCKS} blocks for sessions it cannot know, back to back, spread over the agents. */
    void sendFlood(int n) {
        List<NixlAgent> all = new ArrayList<>();
        List<String> to = new ArrayList<>();
        for (Victim v : victims.values()) {
            for (NixlAgent a : v.senders()) {
                all.add(a);
                to.add(v.name());
            }
        }
        if (all.isEmpty()) {
            return;
        }
        int[] blocks = new int[FLOOD_BLOCKS];
        for (int b = 0; b < blocks.length; b++) {
            blocks[b] = random.nextInt(1 << 16);
        }
        MacKey guessed = new MacKey(bytes(32));
        for (int k = 0; k < n; k++) {
            int i = Math.floorMod(next++, all.size());
            long id = idFrom + random.nextLong(Math.max(1, idTo - idFrom + 1));
            if (send(all.get(i), to.get(i), WireCodec.encode(new WireMessage.Announce(id, 1 + random.nextInt(1 << 20), 0, false, blocks),
                    random.nextLong() | 1, 1 + k, guessed))) {
                sent.merge(Kind.FLOOD, 1L, Long::sum);
            }
        }
    }

    /** The agent that reaches {@code victim} under the name {@code as}, or null if there is none. */
    NixlAgent agent(String victim, String as) {
        for (Victim v : victims.values()) {
            if (v.name().equals(victim)) {
                for (NixlAgent a : v.senders()) {
                    if (a.name().equals(as)) {
                        return a;
                    }
                }
            }
        }
        return null;
    }

    /** Sends one notification of {@code bytes} (starting like a kvx frame) to every victim. */
    int sendOversized(int bytes) {
        byte[] big = new byte[bytes];
        big[0] = 'K';
        big[1] = 'V';
        big[2] = 'X';
        big[3] = WireCodec.VERSION;
        int n = 0;
        for (Victim v : victims.values()) {
            if (!v.senders().isEmpty() && send(v.senders().get(v.senders().size() - 1), v.name(), big)) {
                n++;
            }
        }
        return n;
    }

    /** Hands the bytes to NIXL; false (counted as a send failure) if the victim went away (it is reloaded when its file changes). */
    private boolean send(NixlAgent from, String to, byte[] bytes) {
        try {
            from.sendNotification(to, bytes);
            return true;
        } catch (RuntimeException e) {
            sendFailures++;
            return false;
        }
    }

    private byte[] frame(Kind kind, String claimedName) {
        long id = idFrom + random.nextLong(Math.max(1, idTo - idFrom + 1));
        int epoch = 1 + random.nextInt(1 << 20);
        long session = random.nextLong() | 1;
        MacKey guessed = new MacKey(bytes(32));
        return switch (kind) {
            case ABORT -> WireCodec.encode(new WireMessage.Abort(id, epoch, 2, random.nextBoolean()), session, 1 + random.nextInt(1000), guessed);
            case ANNOUNCE -> {
                int[] blocks = new int[1 + random.nextInt(16)];
                for (int b = 0; b < blocks.length; b++) {
                    blocks[b] = random.nextInt(1 << 16);
                }
                yield WireCodec.encode(new WireMessage.Announce(id, epoch, 0, false, blocks), session, 1 + random.nextInt(1000), guessed);
            }
            case DONE -> WireCodec.encode(new WireMessage.Done(id, epoch), session, 1 + random.nextInt(1000), guessed);
            case RELEASED -> WireCodec.encode(new WireMessage.Released(id, epoch), session, 1 + random.nextInt(1000), guessed);
            case HELLO -> WireCodec.encode(new WireMessage.Hello(bytes(16), random.nextLong(), claimedName,
                    new PoolInfo(false, 0, 1 << 20, 4096, 1024, 1, 1, 64, 2, 16, false)), session, 0, guessed);
            case FLOOD -> throw new IllegalArgumentException("floods are sent by sendFlood");
            case GARBAGE -> {
                byte[] g = bytes(8 + random.nextInt(256));
                if (random.nextBoolean()) { // looks like kvx, is not
                    g[0] = 'K';
                    g[1] = 'V';
                    g[2] = 'X';
                }
                yield g;
            }
        };
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    Map<Kind, Long> sent() {
        return sent;
    }

    /** Forged messages tried so far, sent or not (the pace of {@link #sendForged}). */
    long attempted() {
        return attempted;
    }

    /** Forged messages sent so far (floods not counted). */
    long forged() {
        long n = 0;
        for (Kind k : FORGED) {
            n += sent.get(k);
        }
        return n;
    }

    long sendFailures() {
        return sendFailures;
    }

    @Override
    public void close() {
        victims.values().forEach(v -> v.senders().forEach(NixlAgent::close));
        victims.clear();
    }
}
