package dev.kvx.cli.soak;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.cli.hosts.EtcdProcess;
import dev.kvx.cli.hosts.HostsUnavailableException;
import dev.kvx.cli.hosts.NetnsHosts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Two namespace hosts and etcd in a third: a prefill worker in h0 and a decode worker in h1 ({@code kvx
 * worker} processes with the real transceiver over real NIXL, UCX_TLS=tcp) find each other by name
 * through etcd and move a request across the bridge; with h1's link cut, a request ends at its deadline
 * on both sides instead of hanging, and once the link is back the next one completes. Skipped, with the
 * reason, only where network namespaces cannot be made (not root, no iproute2).
 */
class CrossHostRequestTest {
    private static final long TIMEOUT_MS = 2000;
    private static NetnsHosts hosts;
    private static EtcdProcess etcd;
    private static WorkerProcess prefill;
    private static WorkerProcess decode;
    private static Path dir;
    private static final Map<String, CompletableFuture<SoakRequest.Out>> outcomes = new ConcurrentHashMap<>();

    @BeforeAll
    static void setUp() throws Exception {
        try {
            hosts = NetnsHosts.create(List.of("h0", "h1", "etcd"));
        } catch (HostsUnavailableException e) {
            Assumptions.abort("skipped: " + e.getMessage());
        }
        etcd = EtcdProcess.start(hosts, hosts.host("etcd"), HostsSoakTest.etcdBinary());
        dir = Files.createTempDirectory("kvx-cross-host");
        SoakOptions o = new SoakOptions();
        new CommandLine(o).parseArgs("--layers=2", "--kv-heads=2", "--head-size=64", "--pool-blocks=64", "--buffers=2",
                "--timeout-ms=" + TIMEOUT_MS, "--faults=none", "--report=" + dir);
        String namespace = "/kvx-test/cross-host/" + ProcessHandle.current().pid();
        Map<String, String> env = Map.of("KVX_SECRET_FILE", SoakSecret.create(dir).toString(), "UCX_TLS", "tcp,cuda_copy"); // NIXL refuses tcp alone on a GPU host
        prefill = new WorkerProcess(SoakWorker.Role.CTX, "prefill-0", -1, hosts.command(hosts.host("h0"), List.of()),
                SoakWorker.etcdArguments(SoakWorker.Role.CTX, "prefill-0", etcd.endpoint(), namespace, o), env,
                dir.resolve("prefill-0.log"), CrossHostRequestTest::outcome);
        decode = new WorkerProcess(SoakWorker.Role.GEN, "decode-0", -1, hosts.command(hosts.host("h1"), List.of()),
                SoakWorker.etcdArguments(SoakWorker.Role.GEN, "decode-0", etcd.endpoint(), namespace, o), env,
                dir.resolve("decode-0.log"), CrossHostRequestTest::outcome);
        prefill.awaitReady(Duration.ofSeconds(90));
        decode.awaitReady(Duration.ofSeconds(90));
        assertTrue(etcd.keys(namespace + "/").containsAll(List.of(namespace + "/prefill-0/metadata", namespace + "/decode-0/metadata")),
                "both workers published their metadata in etcd: " + etcd.keys(namespace + "/"));
        prefill.send("AWAIT decode-0");
        decode.send("DIAL prefill-0"); // by name: the decode worker knows no address, only etcd
        assertTrue(prefill.connected.await(60, TimeUnit.SECONDS) && decode.connected.await(60, TimeUnit.SECONDS),
                "the workers did not connect through etcd:\n" + WorkerProcess.tail(decode.log, 20));
        assertEquals(java.util.Set.of("decode-0"), prefill.peers, "prefill-0's session");
        assertEquals(java.util.Set.of("prefill-0"), decode.peers, "decode-0's session");
    }

    private static void outcome(WorkerProcess from, long id, SoakRequest.Out out) {
        outcomes.computeIfAbsent(from.name + "/" + id, k -> new CompletableFuture<>()).complete(out);
    }

    private static CompletableFuture<SoakRequest.Out> outcomeOf(String worker, long id) {
        return outcomes.computeIfAbsent(worker + "/" + id, k -> new CompletableFuture<>());
    }

    @AfterAll
    static void tearDown() throws Exception {
        for (WorkerProcess w : new WorkerProcess[] {prefill, decode}) {
            if (w != null) {
                w.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (etcd != null) {
            etcd.close();
        }
        if (hosts != null) {
            hosts.close();
        }
        if (dir != null) {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    /** Submits a request of 4 blocks to both workers; returns (context outcome, generation outcome). */
    private static List<CompletableFuture<SoakRequest.Out>> request(long id) {
        prefill.send("REQ " + id + " 4 decode-0");
        decode.send("REQ " + id + " 4 prefill-0");
        return List.of(outcomeOf("prefill-0", id), outcomeOf("decode-0", id));
    }

    @Test
    void aRequestCrossesTheBridgeAndALinkCutEndsOneAtItsDeadline() throws Exception {
        List<CompletableFuture<SoakRequest.Out>> first = request(1);
        assertEquals("COMPLETED", first.get(1).get(30, TimeUnit.SECONDS).status(), "decode-0 verified the blocks from h0");
        assertEquals("COMPLETED", first.get(0).get(30, TimeUnit.SECONDS).status());

        hosts.cutLink(hosts.host("h1"));
        try {
            long submitted = System.nanoTime();
            List<CompletableFuture<SoakRequest.Out>> cut = request(2);
            // Liveness, not speed: both outcomes must come (a hang would never end); the bound is the deadline plus slack.
            SoakRequest.Out gen = cut.get(1).get(TIMEOUT_MS + 10_000, TimeUnit.MILLISECONDS);
            SoakRequest.Out ctx = cut.get(0).get(TIMEOUT_MS + 10_000, TimeUnit.MILLISECONDS);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - submitted);
            System.out.printf("link cut: decode-0 %s in %s, prefill-0 %s in %s; both outcomes %d ms after submission (deadline %d ms)%n",
                    gen.status(), gen.phase(), ctx.status(), ctx.phase(), ms, TIMEOUT_MS);
            assertEquals("TIMED_OUT", gen.status(), "the decode side ends it at its deadline: " + gen);
            assertEquals("TIMED_OUT", ctx.status(), "the prefill side never got the request info: " + ctx);
            assertTrue(gen.latencyNanos() >= TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS), "not before its deadline: " + gen);
        } finally {
            hosts.restoreLink(hosts.host("h1"));
        }
        List<CompletableFuture<SoakRequest.Out>> after = request(3);
        assertEquals("COMPLETED", after.get(1).get(30, TimeUnit.SECONDS).status(), "served again once the link is back");
        assertEquals("COMPLETED", after.get(0).get(30, TimeUnit.SECONDS).status());
    }
}
