package dev.kvx.nixl;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Real NIXL (UCX) transfers between two agents in one JVM. */
class NixlTransferTest {
    private static final Duration LONG = Duration.ofSeconds(60);

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {1024, 1 << 20, 64 << 20})
    void writeThenReadBackWithChecksumAndNotification(int size) throws Exception {
        try (AgentPair p = new AgentPair()) {
            HostBuffer src = p.buffer(p.a, size);
            HostBuffer back = p.buffer(p.a, size);
            HostBuffer dst = p.buffer(p.b, size);
            byte[] data = new byte[size];
            new Random(size).nextBytes(data);
            src.write(0, data);
            Registration ra = p.register(p.a, src, back);
            Registration rb = p.register(p.b, dst);
            p.connect();
            byte[] note = ("kvx-write-" + size).getBytes(StandardCharsets.UTF_8);

            try (Transfer w = p.a.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor()),
                    MemoryKind.DRAM, List.of(dst.descriptor()), p.b.name(), note)) {
                w.post();
                assertEquals(TransferState.DONE, w.await(LONG), "WRITE did not finish in time");
                assertEquals(src.checksum(0, size), dst.checksum(0, size), "WRITE content differs");
                List<Notification> notes = awaitOne(p.b);
                assertEquals(1, notes.size());
                assertEquals(p.a.name(), notes.get(0).sender());
                assertArrayEquals(note, notes.get(0).message());
            }
            try (Transfer r = p.a.createTransfer(TransferOp.READ, MemoryKind.DRAM, List.of(back.descriptor()),
                    MemoryKind.DRAM, List.of(dst.descriptor()), p.b.name(), null)) {
                r.post();
                assertEquals(TransferState.DONE, r.await(LONG), "READ did not finish in time");
            }
            byte[] got = new byte[size];
            back.read(0, got);
            assertArrayEquals(data, got, "READ back differs from what was written");

            NixlAgent.Stats s = p.a.stats();
            assertEquals(0, s.openTransfers());
            assertEquals(2, s.transfersCreated());
            assertEquals(2, s.transfersReleased());
            ra.close();
            rb.close();
            assertEquals(0, p.a.stats().openRegistrations());
            assertEquals(0, p.b.stats().openRegistrations());
            src.close(); // unpinned by the deregistration: closing works now
            assertTrue(src.isClosed());
        }
    }

    @Test
    void thousandSmallTransfersInFlightAllCompleteNoneLeak() throws Exception {
        int count = 1000;
        int block = 4096;
        try (AgentPair p = new AgentPair()) {
            HostBuffer src = p.buffer(p.a, (long) count * block);
            HostBuffer dst = p.buffer(p.b, (long) count * block);
            byte[] data = new byte[count * block];
            new Random(7).nextBytes(data);
            src.write(0, data);
            p.register(p.a, src);
            p.register(p.b, dst);
            p.connect();
            List<Transfer> inFlight = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                Transfer t = p.a.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor((long) i * block, block)),
                        MemoryKind.DRAM, List.of(dst.descriptor((long) i * block, block)), p.b.name(), null);
                t.post();
                inFlight.add(t);
            }
            assertEquals(count, p.a.stats().openTransfers());
            for (Transfer t : inFlight) {
                assertEquals(TransferState.DONE, t.await(LONG));
                t.close();
            }
            assertEquals(src.checksum(0, data.length), dst.checksum(0, data.length));
            NixlAgent.Stats s = p.a.stats();
            assertEquals(0, s.openTransfers());
            assertEquals(count, s.transfersCreated());
            assertEquals(count, s.transfersReleased());
        }
    }

    @Test
    void standaloneNotificationArrivesWithSender() throws Exception {
        try (AgentPair p = new AgentPair()) {
            p.connect();
            p.a.sendNotification(p.b.name(), "ping".getBytes(StandardCharsets.UTF_8));
            List<Notification> got = awaitOne(p.b);
            assertEquals("ping", got.get(0).text());
            assertEquals(p.a.name(), got.get(0).sender());
        }
    }

    @Test
    void repostingACompletedTransferMovesNewData() throws Exception {
        try (AgentPair p = new AgentPair()) {
            HostBuffer src = p.buffer(p.a, 8192);
            HostBuffer dst = p.buffer(p.b, 8192);
            p.register(p.a, src);
            p.register(p.b, dst);
            p.connect();
            try (Transfer t = p.a.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor()),
                    MemoryKind.DRAM, List.of(dst.descriptor()), p.b.name(), null)) {
                for (byte v = 1; v <= 3; v++) {
                    src.fill(0, 8192, v);
                    t.post();
                    assertEquals(TransferState.DONE, t.await(LONG));
                    assertEquals(src.checksum(0, 8192), dst.checksum(0, 8192), "round " + v);
                    assertTrue(t.lastDurationNanos() > 0);
                }
            }
        }
    }

    static List<Notification> awaitOne(NixlAgent agent) throws InterruptedException {
        List<Notification> got = agent.awaitNotifications(LONG);
        assertFalse(got.isEmpty(), "no notification reached " + agent.name() + " within " + LONG);
        return got;
    }

    static MemoryDescriptor beyond(HostBuffer buf) {
        return new MemoryDescriptor(buf.address(), buf.size() + 4096, 0);
    }
}
