package dev.kvx.cli.hosts;

import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.nixl.NixlAgent;
import dev.kvx.nixl.Notification;
import dev.kvx.nixl.Registration;
import dev.kvx.nixl.Transfer;
import dev.kvx.nixl.TransferOp;
import dev.kvx.nixl.TransferState;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Random;

/**
 * A NIXL worker for cross-host tests and measurements, one per process (started inside a namespace
 * host with {@code NIXL_ETCD_ENDPOINTS} in its environment). Prints one line per event on stdout.
 *
 * <pre>
 * XferProbe target NAME SIZE
 *     publishes its metadata through etcd, prints "READY NAME ADDRESS CRC", then "NOTIF epochMs sender msg"
 *     per notification; on "check" prints "CRC crc", on "quit" withdraws and exits
 * XferProbe initiator NAME PEER ADDRESS SIZE bench COUNT
 *     fetches PEER by name, WRITEs SIZE bytes COUNT times (one at a time, after 3 warm-ups),
 *     prints "RESULT bytes seconds GB/s" and the CRC of what it wrote
 * XferProbe initiator NAME PEER ADDRESS SIZE stream SECONDS PERIOD_MS DEADLINE_MS
 *     one WRITE (with notification "seq-N") every PERIOD_MS for SECONDS, each awaited up to
 *     DEADLINE_MS; prints "XFER n postEpochMs state|ERROR elapsedMs detail"
 * </pre>
 *
 * <p>Switches for the teardown after a peer died silently (a host kill): {@code -Dprobe.noNotify=true}
 * skips the final notifications, {@code -Dprobe.invalidateBeforeClose=true} invalidates the peer first,
 * {@code -Dprobe.keepRegistration=true} leaves the registration to the agent's close,
 * {@code -Dprobe.agentFirst=true} closes the agent while the buffer is still allocated.
 */
public final class XferProbe {
    private XferProbe() {}

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /** See the class comment. */
    public static void main(String[] args) throws Exception {
        if (args[0].equals("target")) {
            target(args[1], parseSize(args[2]));
        } else {
            initiator(args);
        }
    }

    private static long parseSize(String s) {
        String u = s.toUpperCase();
        if (u.endsWith("MIB")) {
            return Long.parseLong(u.substring(0, u.length() - 3)) << 20;
        }
        if (u.endsWith("KIB")) {
            return Long.parseLong(u.substring(0, u.length() - 3)) << 10;
        }
        return Long.parseLong(s);
    }

    private static void target(String name, long size) throws Exception {
        try (NixlAgent agent = NixlAgent.createWithUcx(name); HostBuffer dst = HostBuffer.allocate(size, "target")) {
            Registration reg = agent.register(dst);
            agent.publishMetadata();
            say("READY " + name + " " + dst.address() + " " + dst.checksum(0, size));
            boolean quit = false;
            while (!quit) {
                for (Notification n : agent.awaitNotifications(Duration.ofSeconds(1))) {
                    String msg = new String(n.message(), StandardCharsets.UTF_8);
                    if (msg.equals("quit")) {
                        quit = true;
                    } else if (msg.equals("check")) {
                        say("CRC " + dst.checksum(0, size));
                    } else {
                        say("NOTIF " + System.currentTimeMillis() + " " + n.sender() + " " + msg);
                    }
                }
            }
            agent.withdrawMetadata();
            reg.close();
            say("BYE " + name);
        }
    }

    private static void initiator(String[] a) throws Exception {
        String name = a[1];
        String peer = a[2];
        long remote = Long.parseLong(a[3]);
        long size = parseSize(a[4]);
        try (NixlAgent agent = NixlAgent.createWithUcx(name); HostBuffer src = HostBuffer.allocate(size, "initiator")) {
            byte[] data = new byte[(int) Math.min(size, 1 << 26)];
            new Random(42).nextBytes(data);
            for (long off = 0; off < size; off += data.length) {
                src.write(off, data, 0, (int) Math.min(data.length, size - off));
            }
            Registration reg = agent.register(src);
            long t0 = System.nanoTime();
            agent.fetchRemoteMetadata(peer);
            if (!agent.awaitRemote(peer, Duration.ofSeconds(20))) {
                say("NOPEER " + peer);
                System.exit(3);
            }
            say("CONNECTED " + peer + " " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            List<MemoryDescriptor> local = List.of(src.descriptor());
            List<MemoryDescriptor> far = List.of(new MemoryDescriptor(remote, size, 0));
            if (a[5].equals("bench")) {
                bench(agent, peer, local, far, size, Integer.parseInt(a[6]));
                say("WROTE-CRC " + src.checksum(0, size));
            } else {
                stream(agent, peer, local, far, Integer.parseInt(a[6]), Long.parseLong(a[7]), Long.parseLong(a[8]));
            }
            if (Boolean.getBoolean("probe.invalidateBeforeClose")) {
                agent.invalidateRemote(peer);
                say("INVALIDATED " + peer);
            }
            for (String msg : Boolean.getBoolean("probe.noNotify") ? List.<String>of() : List.of("check", "quit")) {
                try {
                    agent.sendNotification(peer, msg.getBytes(StandardCharsets.UTF_8));
                } catch (RuntimeException e) {
                    say("NOTIFY-FAILED " + msg + " " + e.getMessage());
                }
            }
            Thread.sleep(500); // let the progress thread flush the notifications
            if (!Boolean.getBoolean("probe.keepRegistration")) {
                reg.close();
            }
            say("CLOSING");
            if (Boolean.getBoolean("probe.agentFirst")) {
                agent.close(); // while the buffer is still allocated
                say("AGENT-CLOSED");
            }
        }
        say("CLOSED");
    }

    private static TransferState writeOnce(NixlAgent agent, String peer, List<MemoryDescriptor> local,
                                           List<MemoryDescriptor> far, String note, Duration deadline) {
        try (Transfer t = agent.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, local, MemoryKind.DRAM, far, peer,
                note == null ? null : note.getBytes(StandardCharsets.UTF_8))) {
            t.post();
            return t.await(deadline);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void bench(NixlAgent agent, String peer, List<MemoryDescriptor> local, List<MemoryDescriptor> far,
                              long size, int count) {
        for (int i = 0; i < 3; i++) {
            writeOnce(agent, peer, local, far, null, Duration.ofSeconds(60));
        }
        long t0 = System.nanoTime();
        for (int i = 0; i < count; i++) {
            TransferState s = writeOnce(agent, peer, local, far, i == count - 1 ? "bench-done" : null, Duration.ofSeconds(60));
            if (s != TransferState.DONE) {
                say("BENCH-STUCK " + i + " " + s);
                return;
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        say(String.format("RESULT %d %.4f %.3f", size * count, secs, size * count / secs / 1e9));
    }

    private static void stream(NixlAgent agent, String peer, List<MemoryDescriptor> local, List<MemoryDescriptor> far,
                               int seconds, long periodMs, long deadlineMs) throws InterruptedException {
        long end = System.currentTimeMillis() + seconds * 1000L;
        for (int n = 0; System.currentTimeMillis() < end; n++) {
            long post = System.currentTimeMillis();
            long t0 = System.nanoTime();
            String outcome;
            try {
                TransferState s = writeOnce(agent, peer, local, far, "seq-" + n, Duration.ofMillis(deadlineMs));
                outcome = s.toString();
            } catch (RuntimeException e) {
                outcome = "ERROR " + ((System.nanoTime() - t0) / 1_000_000) + " " + e.getClass().getSimpleName() + ": "
                        + e.getMessage().lines().findFirst().orElse("");
                say("XFER " + n + " " + post + " " + outcome);
                Thread.sleep(periodMs);
                continue;
            }
            say("XFER " + n + " " + post + " " + outcome + " " + (System.nanoTime() - t0) / 1_000_000);
            Thread.sleep(Math.max(0, periodMs - (System.currentTimeMillis() - post)));
        }
    }
}
