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

    private static boolean present(String agent) {
        try {
            return etcd.get(EtcdStore.metadataKey(namespace, agent)).isPresent();
        } catch (Exception e) {
            return false;
        }
    }
}
