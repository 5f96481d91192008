package dev.kvx.cli.soak;

import dev.kvx.cli.Main;
import dev.kvx.cli.SizeConverter;
import dev.kvx.cli.VersionProvider;
import dev.kvx.nixl.NixlAgent;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvx hostile} (hidden): a hostile peer for the soak run ({@code kvx soak --hostile-peer}), a process
 * of its own that attacks the workers for a given time and says what it sent:
 * <ul>
 * <li>with each worker's NIXL metadata (handed to it as if it had leaked; without it UCX cannot reach a
 *     worker's agent at all), hand-made NIXL agents that take the other workers' names and its own send
 *     forged kvx messages at {@code --rate} — Abort, Announce, Done, Released for sessions they cannot know,
 *     handshakes signed under a guessed secret, garbage — and every {@code --oversize-every-ms} one
 *     notification of {@code --oversize} bytes;</li>
 * <li>every {@code --flood-every-ms}, a flood of {@code --flood} big announcements at once;</li>
 * <li>with the frames the workers sent ({@code --wire}, as if captured on the network): those frames again
 *     (replays), with a bit flipped (tampered), and new messages forged in their real sessions, each under the
 *     original sender's name ({@link HostileWire});</li>
 * <li>at each worker's control address, without the secret: an honest client with another secret (asking for
 *     the metadata), junk, a client that lies about its proof, an absurd length field;</li>
 * <li>every {@code --fetch-every-ms}, NIXL's own metadata fetch at every TCP port the {@code --victim-pid}
 *     processes listen on ({@link HostileFetch}).</li>
 * </ul>
 * It never holds the secret. Output, one line each: {@code HOSTILE READY victims=… control=N secret=none} (or
 * {@code secret=configured}, if one reached its environment), {@code HOSTILE PORTS pid=ip:port,…}
 * per victim process, {@code HOSTILE STAT …} every second, and at the end {@code HOSTILE DONE seconds=… forged=N
 * abort=… announce=… done=… released=… hello=… garbage=… flood=… replayed=… tampered=… session_forged=…
 * wireUnreachable=… oversized=M oversizedBytes=B sendFailures=F control=A controlWrongSecret=… controlJunk=…
 * controlLiar=… controlAbsurdLength=… controlRefused=R controlLeaked=L controlHung=H controlUnreachable=U
 * fetch=… fetchAsked=… fetchAskedControl=… fetchGot=… victims=…}. On stdin, {@code VICTIM host:port pid} adds a worker that
 * replaced one (its control channel and process), and {@code QUIT} ends it early. Exit status 1 if a
 * victim sent its metadata without the secret or kept a hostile connection past the timeout (a defence failed),
 * else 0.
 */
@Command(name = "hostile", hidden = true, mixinStandardHelpOptions = true, versionProvider = VersionProvider.class, sortOptions = false,
        description = "A hostile peer that attacks soak workers for a while (started by 'kvx soak --hostile-peer'; not for direct use).")
public final class HostilePeer implements Callable<Integer> {
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;
    @Option(names = "--control", paramLabel = "HOST:PORT", description = "a victim's control address (repeatable)")
    List<String> control = new ArrayList<>();
    @Option(names = "--metadata", paramLabel = "FILE", description = "a victim's leaked NIXL metadata (repeatable; reloaded when it changes)")
    List<Path> metadata = new ArrayList<>();
    @Option(names = "--seconds", paramLabel = "S", defaultValue = "30", description = "how long to attack (${DEFAULT-VALUE})")
    double seconds;
    @Option(names = "--rate", paramLabel = "N", defaultValue = "200", description = "forged messages per second, over all victims (${DEFAULT-VALUE})")
    double rate;
    @Option(names = "--oversize", paramLabel = "SIZE", defaultValue = "1MiB", converter = SizeConverter.class,
            description = "size of the oversized notifications, 0 for none (${DEFAULT-VALUE}; kvx drops over 512 KiB)")
    long oversize;
    @Option(names = "--oversize-every-ms", paramLabel = "MS", defaultValue = "1000", description = "one oversized notification per victim this often (${DEFAULT-VALUE})")
    long oversizeEveryMs;
    @Option(names = "--control-every-ms", paramLabel = "MS", defaultValue = "200", description = "one control-channel attempt per address this often (${DEFAULT-VALUE})")
    long controlEveryMs;
    @Option(names = "--request-ids", paramLabel = "FROM-TO", defaultValue = "1-100000", description = "request ids forged messages name (${DEFAULT-VALUE})")
    String requestIds;
    @Option(names = "--seed", defaultValue = "1", description = "seed of what is sent (${DEFAULT-VALUE})")
    long seed;
    @Option(names = "--wire", paramLabel = "FILE", description = "frames a victim sent, as if captured (repeatable; reloaded when it changes)")
    List<Path> wire = new ArrayList<>();
    @Option(names = "--wire-rate", paramLabel = "N", defaultValue = "100", description = "replayed, tampered and forged-in-session frames per second (${DEFAULT-VALUE})")
    double wireRate;
    @Option(names = "--flood", paramLabel = "N", defaultValue = "1000", description = "announcements per flood, 0 for none (${DEFAULT-VALUE})")
    int flood;
    @Option(names = "--flood-every-ms", paramLabel = "MS", defaultValue = "5000", description = "one flood this often (${DEFAULT-VALUE})")
    long floodEveryMs;
    @Option(names = "--victim-pid", paramLabel = "PID", description = "a victim's process, whose listening ports NIXL's metadata fetch is pointed at (repeatable)")
    List<Long> victimPids = new ArrayList<>();
    @Option(names = "--wait-go", description = "after HOSTILE READY, wait for a line GO on stdin before attacking (at most 10 minutes)")
    boolean waitGo;
    @Option(names = "--fetch-every-ms", paramLabel = "MS", defaultValue = "4000", description = "one metadata-fetch round this often (${DEFAULT-VALUE})")
    long fetchEveryMs;

    /** Creates the command (picocli fills the options). */
    public HostilePeer() {}

    /**
     * The command line that starts a hostile peer.
     *
     * @return the arguments after {@code kvx}
     */
    static List<String> arguments(List<InetSocketAddress> controls, List<Path> metadataFiles, double seconds, double rate) {
        List<String> a = new ArrayList<>(List.of("hostile", "--seconds=" + seconds, "--rate=" + rate));
        controls.forEach(c -> a.add("--control=" + c.getHostString() + ":" + c.getPort()));
        metadataFiles.forEach(f -> a.add("--metadata=" + f));
        return a;
    }

    private CommandLine.ParameterException usage(String why) {
        return new CommandLine.ParameterException(spec.commandLine(), why);
    }

    @Override
    public Integer call() throws Exception {
        if (control.isEmpty() && metadata.isEmpty()) {
            throw usage("give at least one --control address or --metadata file to attack");
        }
        if (seconds <= 0 || rate < 0 || wireRate < 0 || flood < 0 || oversize < 0 || oversize > Integer.MAX_VALUE - 8 || oversizeEveryMs <= 0
                || controlEveryMs <= 0 || floodEveryMs <= 0 || fetchEveryMs <= 0) {
            throw usage("--seconds and every --*-every-ms must be > 0, --rate, --wire-rate and --flood >= 0, --oversize 0..2 GiB");
        }
        String[] ids = requestIds.split("-");
        long idFrom;
        long idTo;
        List<InetSocketAddress> addresses = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Long> pids = new java.util.concurrent.CopyOnWriteArrayList<>(victimPids);
        java.util.Set<String> controlPorts = java.util.concurrent.ConcurrentHashMap.newKeySet();
        try {
            idFrom = Long.parseLong(ids[0].trim());
            idTo = Long.parseLong(ids[ids.length - 1].trim());
            for (String c : control) {
                int colon = c.lastIndexOf(':');
                addresses.add(new InetSocketAddress(c.substring(0, colon), Integer.parseInt(c.substring(colon + 1))));
            }
        } catch (RuntimeException e) {
            throw usage("cannot read --request-ids '" + requestIds + "' (FROM-TO) or a --control address " + control + " (HOST:PORT)");
        }
        addresses.forEach(a -> controlPorts.add(a.getHostString() + ":" + a.getPort()));
        PrintWriter out = spec.commandLine().getOut();
        String own = "hostile-" + ProcessHandle.current().pid();
        AtomicBoolean quit = new AtomicBoolean();
        CountDownLatch go = new CountDownLatch(waitGo ? 1 : 0);
        Thread stdin = Thread.ofPlatform().daemon().name("hostile-stdin").start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    String[] f = line.trim().split(" ");
                    if (f[0].equals("GO")) {
                        go.countDown();
                    } else if (f[0].equals("VICTIM") && f.length == 3) { // a restarted worker: its control channel and process
                        int colon = f[1].lastIndexOf(':');
                        addresses.add(new InetSocketAddress(f[1].substring(0, colon), Integer.parseInt(f[1].substring(colon + 1))));
                        controlPorts.add(f[1]);
                        pids.add(Long.parseLong(f[2]));
                        synchronized (out) {
                            out.println("HOSTILE PORTS " + f[2] + "=" + String.join(",", HostileFetch.listening(Long.parseLong(f[2]))));
                        }
                    } else if (line.trim().equals("QUIT")) {
                        quit.set(true);
                        return;
                    }
                }
                if (waitGo) {
                    quit.set(true); // the driver went away
                }
            } catch (java.io.IOException | RuntimeException e) {
                // no stdin: run for --seconds
            }
        });
        HostileControl attacks = new HostileControl(seed, Duration.ofSeconds(5));
        HostileWire captured = new HostileWire(wire, seed);
        HostileFetch fetches = new HostileFetch();
        long oversized = 0;
        try (NixlAgent self = NixlAgent.createWithUcx(own);
             HostileTargets targets = new HostileTargets(metadata, own, seed, idFrom, idTo)) {
            byte[] ownMetadata = self.localMetadata();
            List<String> victims = targets.refresh();
            long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (victims.size() < metadata.size() && System.nanoTime() < waitUntil && !quit.get()) {
                Thread.sleep(100); // the workers write their metadata when they are up
                victims = targets.refresh();
            }
            synchronized (out) {
                boolean secret = System.getenv("KVX_SECRET_FILE") != null || System.getenv("KVX_SECRET") != null
                        || System.getProperty("kvx.secret.file") != null;
                out.println("HOSTILE READY victims=" + String.join(",", victims) + " control=" + addresses.size()
                        + " secret=" + (secret ? "configured" : "none"));
                for (long pid : pids) {
                    out.println("HOSTILE PORTS " + pid + "=" + String.join(",", HostileFetch.listening(pid)));
                }
            }
            long goBy = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
            while (!go.await(100, TimeUnit.MILLISECONDS) && !quit.get() && System.nanoTime() < goBy) {
                victims = targets.refresh(); // a victim restarted before the attack: reach the new one
            }
            captured.refresh();
            long start = System.nanoTime();
            long end = start + (long) (seconds * 1e9);
            Thread controller = Thread.ofVirtual().name("hostile-control").start(() -> {
                for (long round = 0; !quit.get() && System.nanoTime() < end; round++) {
                    for (InetSocketAddress a : addresses) {
                        attacks.attempt(a, round, ownMetadata);
                    }
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(controlEveryMs));
                }
            });
            List<String> victimNames = new java.util.concurrent.CopyOnWriteArrayList<>(victims);
            Thread fetcher = Thread.ofPlatform().daemon().name("hostile-fetch").start(() -> {
                try {
                    while (!pids.isEmpty() && !quit.get() && System.nanoTime() < end) {
                        fetches.attempt(pids, victimNames, controlPorts, Duration.ofSeconds(2));
                        Thread.sleep(fetchEveryMs);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            long nextOversize = start;
            long nextFlood = start + TimeUnit.MILLISECONDS.toNanos(floodEveryMs) / 2;
            long wireSent = 0;
            long nextSecond = start + TimeUnit.SECONDS.toNanos(1);
            long now;
            while ((now = System.nanoTime()) < end && !quit.get()) {
                long due = (long) ((now - start) / 1e9 * rate);
                for (long n = targets.attempted(); n < due && !victims.isEmpty(); n++) {
                    targets.sendForged();
                }
                long wireDue = (long) ((now - start) / 1e9 * wireRate);
                while (wireSent < wireDue && captured.sendOne(targets)) {
                    wireSent++;
                }
                if (flood > 0 && now - nextFlood >= 0) {
                    targets.sendFlood(flood);
                    nextFlood = now + TimeUnit.MILLISECONDS.toNanos(floodEveryMs);
                }
                if (oversize > 0 && now - nextOversize >= 0) {
                    oversized += targets.sendOversized((int) oversize);
                    nextOversize = now + TimeUnit.MILLISECONDS.toNanos(oversizeEveryMs);
                }
                if (now - nextSecond >= 0) {
                    victims = targets.refresh();
                    victims.stream().filter(v -> !victimNames.contains(v)).forEach(victimNames::add);
                    captured.refresh();
                    nextSecond = now + TimeUnit.SECONDS.toNanos(1);
                    synchronized (out) {
                        out.printf(Locale.ROOT, "HOSTILE STAT t=%.1f forged=%d flood=%d wire=%d oversized=%d control=%d controlRefused=%d"
                                        + " controlLeaked=%d fetch=%d fetchGot=%d%n", (now - start) / 1e9, targets.forged(),
                                targets.sent().get(HostileTargets.Kind.FLOOD), captured.total(), oversized, attacks.attempts.get(),
                                attacks.refused.get(), attacks.leaked.get(), fetches.attempts.get(), fetches.got.get());
                    }
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
            }
            quit.set(true);
            controller.join(TimeUnit.SECONDS.toMillis(30));
            fetcher.interrupt(); // out of its pause between rounds
            fetcher.join(TimeUnit.SECONDS.toMillis(30));
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "HOSTILE DONE seconds=%.1f forged=%d",
                    (System.nanoTime() - start) / 1e9, targets.forged()));
            targets.sent().forEach((k, v) -> line.append(' ').append(k.name().toLowerCase(Locale.ROOT)).append('=').append(v));
            captured.sent().forEach((k, v) -> line.append(' ').append(k.name().toLowerCase(Locale.ROOT)).append('=').append(v));
            line.append(" wireUnreachable=").append(captured.unreachable());
            line.append(" oversized=").append(oversized).append(" oversizedBytes=").append(oversized * oversize)
                    .append(" sendFailures=").append(targets.sendFailures())
                    .append(" control=").append(attacks.attempts.get());
            for (int k = 0; k < HostileControl.KINDS.length; k++) {
                String kind = HostileControl.KINDS[k];
                line.append(" control").append(Character.toUpperCase(kind.charAt(0))).append(kind.substring(1)).append('=').append(attacks.byKind.get(k));
            }
            line.append(" controlRefused=").append(attacks.refused.get())
                    .append(" controlLeaked=").append(attacks.leaked.get()).append(" controlHung=").append(attacks.hung.get())
                    .append(" controlUnreachable=").append(attacks.unreachable.get())
                    .append(" fetch=").append(fetches.attempts.get()).append(" fetchAsked=").append(fetches.asked.get())
                    .append(" fetchAskedControl=").append(fetches.askedControl.get()).append(" fetchGot=").append(fetches.got.get())
                    .append(" victims=").append(String.join(",", victims));
            synchronized (out) {
                out.println(line);
            }
        }
        stdin.interrupt();
        return attacks.leaked.get() > 0 || attacks.hung.get() > 0 || fetches.got.get() > 0 ? Main.FAILED : Main.OK;
    }
}
