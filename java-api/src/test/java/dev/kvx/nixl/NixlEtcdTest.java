package dev.kvx.nixl;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryKind;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * NIXL's central metadata store over a real etcd server (started here): publish, fetch by name,
 * a WRITE between the agents, withdrawal, and a peer that restarts under the same name.
 */
class NixlEtcdTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final AtomicInteger SEQ = new AtomicInteger();
    private static EtcdTestServer etcd;
    private static String namespace;
    private final List<AutoCloseable> owned = new ArrayList<>();

    @BeforeAll
    static void startEtcd() throws Exception {
        StringBuilder whyNot = new StringBuilder();
        Optional<String> bin = EtcdTestServer.binary(whyNot);
        Assumptions.assumeTrue(bin.isPresent(), () -> "skipped: " + whyNot);
        etcd = EtcdTestServer.start(bin.get());
        namespace = "/kvx-test/" + ProcessHandle.current().pid();
    }

    @AfterAll
    static void stopEtcd() throws Exception {
        if (etcd != null) {
            etcd.close();
        }
    }

    @AfterEach
    void closeOwned() throws Exception {
        for (AutoCloseable c : owned.reversed()) {
            c.close();
        }
    }

    /** An agent whose NIXL sees NIXL_ETCD_ENDPOINTS; the variable is removed again before returning. */
    private NixlAgent etcdAgent(String name) {
        EtcdStore.use(etcd.endpoint, namespace);
        try {
            NixlAgent a = NixlAgent.createWithUcx(name);
            owned.add(a);
            return a;
        } finally {
            EtcdStore.clear();
        }
    }

    private HostBuffer buffer(int size, long seed) {
        HostBuffer b = HostBuffer.allocate(size, "etcd-test");
        owned.add(b);
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        b.write(0, data);
        return b;
    }

    private Registration register(NixlAgent a, HostBuffer b) {
        Registration r = a.register(b);
        owned.add(r);
        return r;
    }

    private static String name(String role) {
        return role + "-" + SEQ.incrementAndGet();
    }

    private static Optional<byte[]> awaitKey(String key, boolean present) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            Optional<byte[]> v = etcd.get(key);
            if (v.isPresent() == present || System.nanoTime() - deadline > 0) {
                return v;
            }
            Thread.sleep(20);
        }
    }

    private static void writeAndCheck(NixlAgent from, HostBuffer src, NixlAgent to, HostBuffer dst) throws Exception {
        byte[] note = ("etcd-" + to.name()).getBytes(StandardCharsets.UTF_8);
        try (Transfer t = from.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor()),
                MemoryKind.DRAM, List.of(dst.descriptor()), to.name(), note)) {
            t.post();
            assertEquals(TransferState.DONE, t.await(WAIT), "WRITE through etcd-found peer did not finish");
        }
        assertEquals(src.checksum(0, src.size()), dst.checksum(0, dst.size()), "WRITE content differs");
        List<Notification> got = to.awaitNotifications(WAIT);
        assertEquals(1, got.size(), "one notification expected");
        assertEquals(from.name(), got.get(0).sender());
        assertArrayEquals(note, got.get(0).message());
    }

    @Test
    void publishStoresTheLocalMetadataUnderNamespaceNameMetadata() throws Exception {
        NixlAgent b = etcdAgent(name("gen"));
        register(b, buffer(4096, 1));
        b.publishMetadata();
        String key = EtcdStore.metadataKey(namespace, b.name());
        Optional<byte[]> stored = awaitKey(key, true);
        assertTrue(stored.isPresent(), "NIXL did not write " + key + " within " + WAIT);
        assertArrayEquals(b.localMetadata(), stored.get(), "the stored blob is the agent's local metadata");
        assertEquals(List.of(EtcdStore.agentPrefix(namespace, b.name()), key),
                etcd.keys(EtcdStore.agentPrefix(namespace, b.name())), "NIXL's keys for one agent");
    }

    @Test
    void fetchByNameConnectsAndWriteDeliversDataAndNotification() throws Exception {
        NixlAgent a = etcdAgent(name("ctx"));
        NixlAgent b = etcdAgent(name("gen"));
        HostBuffer src = buffer(1 << 20, 2);
        HostBuffer dst = buffer(1 << 20, 3);
        register(a, src);
        register(b, dst);
        b.publishMetadata();
        a.fetchRemoteMetadata(b.name()); // before or after the key exists: NIXL watches it for 5 s
        assertTrue(a.awaitRemote(b.name(), WAIT), "A did not load B's metadata from etcd");
        writeAndCheck(a, src, b, dst);
    }

    @Test
    void withdrawRemovesTheKeysSoNoPeerCanFetchTheAgentAgain() throws Exception {
        NixlAgent a = etcdAgent(name("ctx"));
        NixlAgent b = etcdAgent(name("gen"));
        register(a, buffer(4096, 4));
        register(b, buffer(4096, 5));
        b.publishMetadata();
        a.fetchRemoteMetadata(b.name());
        assertTrue(a.awaitRemote(b.name(), WAIT));
        b.withdrawMetadata();
        assertTrue(awaitKey(EtcdStore.metadataKey(namespace, b.name()), false).isEmpty(), "key still there");
        assertEquals(List.of(), etcd.keys(EtcdStore.agentPrefix(namespace, b.name())));
        // NIXL's watch usually makes A drop B within ~100 ms, but not when the delete comes before the watch is
        // in place (seen under load), and never after an etcd restart: kvx does not rely on it. What holds is
        // that nobody can fetch B any more.
        NixlAgent c = etcdAgent(name("late"));
        c.fetchRemoteMetadata(b.name());
        assertFalse(c.awaitRemote(b.name(), Duration.ofMillis(1500)), "a withdrawn agent cannot be fetched");
        b.withdrawMetadata(); // twice is harmless
    }

    @Test
    void peerRestartedUnderTheSameNameIsReachedAgainAfterInvalidateAndFetch() throws Exception {
        NixlAgent a = etcdAgent(name("ctx"));
        String peer = name("gen");
        HostBuffer src = buffer(64 << 10, 6);
        register(a, src);
        NixlAgent old = etcdAgent(peer);
        HostBuffer oldDst = buffer(64 << 10, 7);
        Registration oldReg = register(old, oldDst);
        old.publishMetadata();
        a.fetchRemoteMetadata(peer);
        assertTrue(a.awaitRemote(peer, WAIT));
        writeAndCheck(a, src, old, oldDst);
        oldReg.close();
        old.close(); // a crash: no withdrawal, the old keys stay

        NixlAgent fresh = etcdAgent(peer);
        HostBuffer dst = buffer(64 << 10, 8);
        register(fresh, dst);
        fresh.publishMetadata();
        awaitKey(EtcdStore.metadataKey(namespace, peer), true);
        assertTrue(a.hasRemote(peer), "A still holds the dead peer's metadata (nothing told it)");
        a.invalidateRemote(peer); // NIXL refuses to load other connection info over the old one
        a.fetchRemoteMetadata(peer);
        long deadline = System.nanoTime() + WAIT.toNanos();
        TransferState state = null;
        while (state != TransferState.DONE && System.nanoTime() - deadline < 0) {
            if (a.awaitRemote(peer, Duration.ofMillis(200))) {
                writeAndCheck(a, src, fresh, dst);
                state = TransferState.DONE;
            }
        }
        assertEquals(TransferState.DONE, state, "the restarted peer was not reached through etcd");
    }

    @Test
    void agentCreatedWithoutEtcdRefusesCentralStoreCalls() {
        EtcdStore.clear();
        NixlAgent plain = NixlAgent.createWithUcx(name("plain"));
        owned.add(plain);
        NixlException e = assertThrows(NixlException.class, plain::publishMetadata);
        assertEquals(NixlStatus.INVALID_PARAM, e.status());
        assertTrue(e.getMessage().contains("NIXL_ETCD_ENDPOINTS"), e.getMessage());
        assertThrows(NixlException.class, () -> plain.fetchRemoteMetadata("someone"));
        assertThrows(NixlException.class, plain::withdrawMetadata);
    }

    @Test
    void endpointsAreCheckedBeforeNixlSeesThem() {
        assertThrows(IllegalArgumentException.class, () -> EtcdStore.use("https://10.0.0.1:2379", null));
        assertThrows(IllegalArgumentException.class, () -> EtcdStore.use("10.0.0.1", null));
        assertThrows(IllegalArgumentException.class, () -> EtcdStore.use("10.0.0.1:2379", "no-slash"));
        assertTrue(EtcdStore.endpoints().isEmpty(), "a refused setting must not reach the environment");
        EtcdStore.use("http://127.0.0.1:1,127.0.0.2:2", "/kvx/x");
        try {
            assertEquals(Optional.of("http://127.0.0.1:1,127.0.0.2:2"), EtcdStore.endpoints());
            assertEquals("/kvx/x", EtcdStore.namespace());
        } finally {
            EtcdStore.clear();
        }
        assertEquals(EtcdStore.DEFAULT_NAMESPACE, EtcdStore.namespace());
        assertEquals("/nixl/agents//a/metadata", EtcdStore.metadataKey(EtcdStore.DEFAULT_NAMESPACE, "a"));
    }
}
