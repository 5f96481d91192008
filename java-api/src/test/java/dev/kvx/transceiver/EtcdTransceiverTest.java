package dev.kvx.transceiver;

import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.KvxException;
import dev.kvx.kv.KvBlockPool;
import dev.kvx.nixl.EtcdStore;
import dev.kvx.nixl.EtcdTestServer;
import dev.kvx.transceiver.TransferOutcome.Status;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Transceivers that find each other through a real etcd: each publishes its NIXL metadata (NIXL's etcd
 * store), connects by name (kvx reads the key with a deadline), answers a peer it never admitted after
 * reading that peer from etcd, publishes again after etcd lost its key, and withdraws it at close.
 */
class EtcdTransceiverTest {
    private static EtcdTestServer etcd;
    private static String namespace;

    @BeforeAll
    static void startEtcd() throws Exception {
        StringBuilder whyNot = new StringBuilder();
        Optional<String> bin = EtcdTestServer.binary(whyNot);
        Assumptions.assumeTrue(bin.isPresent(), () -> "skipped: " + whyNot);
        etcd = EtcdTestServer.start(bin.get());
        namespace = "/kvx-tx-test/" + ProcessHandle.current().pid();
    }

    @AfterAll
    static void stopEtcd() throws Exception {
        if (etcd != null) {
            etcd.close();
        }
    }

    private static CacheTransceiver withEtcd(String name, KvBlockPool pool, SharedSecret secret) {
        return CacheTransceiver.builder(name, pool).secret(secret).etcd(etcd.endpoint, namespace).build();
    }

    @Test
    void peersConnectByNameThroughEtcdMoveDataAndWithdrawAtClose() throws Exception {
        SharedSecret secret = SharedSecret.generate();
        try (KvBlockPool cp = TransceiverPair.pool(64, "ctx"); KvBlockPool gp = TransceiverPair.pool(64, "gen")) {
            CacheTransceiver ctx = withEtcd("etcd-ctx", cp, secret);
            CacheTransceiver gen = withEtcd("etcd-gen", gp, secret);
            try {
                assertTrue(etcd.get(EtcdStore.metadataKey(namespace, "etcd-ctx")).isPresent(), "published at build");
                // the generation side knows only the name; the context side admitted nobody: it reads the peer from etcd
                assertEquals("etcd-ctx", gen.connectByName("etcd-ctx", Duration.ofSeconds(20)));
                ctx.awaitConnected("etcd-gen", Duration.ofSeconds(20));
                LlmRequest c = ctx.createRequest(1, 3);
                byte[] kv = new byte[(int) TransceiverPair.LAYOUT.blockBytes()];
                new Random(1).nextBytes(kv);
                for (int b = 0; b < 3; b++) {
                    ctx.writeBlock(c, b, kv);
                }
                LlmRequest g = gen.createRequest(1, 3);
                ctx.send(c, "etcd-gen");
                assertEquals(Status.COMPLETED, gen.receive(g, "etcd-ctx").get(20, TimeUnit.SECONDS).status());
                assertArrayEquals(kv, gen.readBlock(g, 2));
                c.close();
                g.close();

                // etcd loses the key (a restart with its data wiped): the keeper publishes it again
                etcd.deletePrefix(EtcdStore.agentPrefix(namespace, "etcd-ctx"));
                assertTrue(eventually(() -> present("etcd-ctx")), "published again after etcd lost it");
                assertTrue(ctx.metrics().snapshot().metadataPublishes() >= 1);

                KvxException unknown = assertThrows(KvxException.class, () -> gen.connectByName("nobody-here", Duration.ofSeconds(5)));
                assertTrue(unknown.getMessage().contains("no metadata of 'nobody-here'"), unknown.getMessage());
            } finally {
                ctx.close();
                gen.close();
            }
            assertTrue(eventually(() -> !present("etcd-ctx") && !present("etcd-gen")), "withdrawn at close");
        }
    }

    /**
     * A peer that restarts under the same name publishes other connection info; the survivor still holds the
     * old one (nothing told it: it had no work with the peer, so no liveness check ran). NIXL refuses to load
     * other connection info over it, so the survivor must treat the old incarnation as lost first, whichever
     * side dials.
     */
    @Test
    void aPeerRestartedUnderTheSameNameIsFoundAgainThroughEtcdWhicheverSideDials() throws Exception {
        SharedSecret secret = SharedSecret.generate();
        try (KvBlockPool cp = TransceiverPair.pool(64, "ctx"); KvBlockPool gp = TransceiverPair.pool(64, "gen");
             KvBlockPool gp2 = TransceiverPair.pool(64, "gen2"); KvBlockPool cp2 = TransceiverPair.pool(64, "ctx2")) {
            CacheTransceiver ctx = withEtcd("re-ctx", cp, secret);
            CacheTransceiver gen = withEtcd("re-gen", gp, secret);
            CacheTransceiver gen2 = null;
            CacheTransceiver ctx2 = null;
            try {
                gen.connectByName("re-ctx", Duration.ofSeconds(20));
                ctx.awaitConnected("re-gen", Duration.ofSeconds(20));
                moveOne(ctx, gen, 1, "re-ctx", "re-gen");
                gen.close();
                assertTrue(eventually(() -> !present("re-gen")), "withdrawn at close");

                // the restarted side dials: the survivor reads its new metadata from etcd and drops the old incarnation
                gen2 = withEtcd("re-gen", gp2, secret);
                assertEquals("re-ctx", gen2.connectByName("re-ctx", Duration.ofSeconds(20)));
                ctx.awaitConnected("re-gen", Duration.ofSeconds(20));
                moveOne(ctx, gen2, 2, "re-ctx", "re-gen");

                // the survivor dials the restarted side
                ctx.close();
                assertTrue(eventually(() -> !present("re-ctx")), "withdrawn at close");
                ctx2 = withEtcd("re-ctx", cp2, secret);
                assertEquals("re-ctx", gen2.connectByName("re-ctx", Duration.ofSeconds(20)));
                ctx2.awaitConnected("re-gen", Duration.ofSeconds(20));
                moveOne(ctx2, gen2, 3, "re-ctx", "re-gen");
                assertTrue(gen2.metrics().snapshot().peersLost() >= 1, "the old incarnation of re-ctx ended as a lost peer");
            } finally {
                ctx.close();
                gen.close();
                if (gen2 != null) {
                    gen2.close();
                }
                if (ctx2 != null) {
                    ctx2.close();
                }
            }
        }
    }

    private static void moveOne(CacheTransceiver ctx, CacheTransceiver gen, long id, String ctxName, String genName) throws Exception {
        LlmRequest c = ctx.createRequest(id, 2);
        byte[] kv = new byte[(int) TransceiverPair.LAYOUT.blockBytes()];
        new Random(id).nextBytes(kv);
        ctx.writeBlock(c, 1, kv);
        LlmRequest g = gen.createRequest(id, 2);
        ctx.send(c, genName);
        assertEquals(Status.COMPLETED, gen.receive(g, ctxName).get(20, TimeUnit.SECONDS).status());
        assertArrayEquals(kv, gen.readBlock(g, 1));
        c.close();
        g.close();
    }

    private static boolean present(String agent) {
        try {
            return etcd.get(EtcdStore.metadataKey(namespace, agent)).isPresent();
        } catch (Exception e) {
            return false;
        }
    }
}
