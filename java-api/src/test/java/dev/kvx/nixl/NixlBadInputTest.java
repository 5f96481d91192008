package dev.kvx.nixl;

import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.AlreadyClosedException;
import dev.kvx.memory.HostBuffer;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Bad input gets a typed, named error and leaves the agent usable (real NIXL). */
class NixlBadInputTest {
    private static final Duration LONG = Duration.ofSeconds(30);

    private static void assertStillUsable(AgentPair p, HostBuffer src, HostBuffer dst) throws Exception {
        src.fill(0, src.size(), (byte) 0x5A);
        try (Transfer t = p.a.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor()),
                MemoryKind.DRAM, List.of(dst.descriptor()), p.b.name(), null)) {
            t.post();
            assertEquals(TransferState.DONE, t.await(LONG));
        }
        assertEquals(src.checksum(0, src.size()), dst.checksum(0, dst.size()));
        assertEquals(0, p.a.stats().openTransfers(), "a failed create must not leave a transfer behind");
    }

    @Test
    void eachBadTransferIsRefusedWithATypedErrorAndTheAgentKeepsWorking() throws Exception {
        try (AgentPair p = new AgentPair()) {
            HostBuffer src = p.buffer(p.a, 64 * 1024);
            HostBuffer dst = p.buffer(p.b, 64 * 1024);
            HostBuffer unregistered = p.buffer(p.a, 64 * 1024);
            p.register(p.a, src);
            p.register(p.b, dst);
            p.connect();

            NixlException unknownPeer = assertThrows(NixlException.class, () -> p.a.createTransfer(TransferOp.WRITE,
                    MemoryKind.DRAM, List.of(src.descriptor()), MemoryKind.DRAM, List.of(dst.descriptor()), "nobody", null));
            assertEquals("nixl_capi_create_xfer_req", unknownPeer.call());
            assertTrue(unknownPeer.rawStatus() < 0);
            assertTrue(unknownPeer.getMessage().contains("nobody"), unknownPeer.getMessage());
            assertTrue(unknownPeer.getMessage().contains("no metadata loaded"), unknownPeer.getMessage());
            assertStillUsable(p, src, dst);

            NixlException notRegistered = assertThrows(NixlException.class, () -> p.a.createTransfer(TransferOp.WRITE,
                    MemoryKind.DRAM, List.of(unregistered.descriptor()), MemoryKind.DRAM, List.of(dst.descriptor()), p.b.name(), null));
            assertEquals(NixlStatus.of(notRegistered.rawStatus()), notRegistered.status());
            assertEquals("nixl_capi_create_xfer_req", notRegistered.call());
            assertStillUsable(p, src, dst);

            MemoryDescriptor tooLong = new MemoryDescriptor(src.address(), src.size() + 4096, 0);
            MemoryDescriptor remoteTooLong = new MemoryDescriptor(dst.address(), dst.size() + 4096, 0);
            assertThrows(NixlException.class, () -> p.a.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(tooLong),
                    MemoryKind.DRAM, List.of(remoteTooLong), p.b.name(), null));
            assertStillUsable(p, src, dst);

            IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> p.a.createTransfer(
                    TransferOp.WRITE, MemoryKind.DRAM, List.of(), MemoryKind.DRAM, List.of(), p.b.name(), null));
            assertTrue(empty.getMessage().contains("at least one descriptor"));
            assertThrows(IllegalArgumentException.class, () -> p.a.createTransfer(TransferOp.WRITE, MemoryKind.DRAM,
                    List.of(src.descriptor(0, 4096)), MemoryKind.DRAM, List.of(dst.descriptor(0, 8192)), p.b.name(), null));
            assertStillUsable(p, src, dst);

            assertThrows(IllegalArgumentException.class, () -> p.a.loadRemoteMetadata(new byte[0]));
            NixlException garbage = assertThrows(NixlException.class, () -> p.a.loadRemoteMetadata(new byte[] {1, 2, 3, 4}));
            assertEquals("nixl_capi_load_remote_md", garbage.call());
            assertThrows(NixlException.class, () -> p.a.loadRemoteMetadata(p.a.localMetadata()), "own metadata");
            assertThrows(NixlException.class, () -> p.a.invalidateRemote("nobody"));
            assertStillUsable(p, src, dst);
        }
    }

    @Test
    void unknownPluginAndDuplicateBackendAreRefused() throws Exception {
        try (NixlAgent agent = NixlAgent.createWithUcx("plugins-" + System.nanoTime())) {
            NixlException e = assertThrows(NixlException.class, () -> agent.createBackend("NO_SUCH_PLUGIN", java.util.Map.of()));
            assertEquals("nixl_capi_create_backend", e.call());
            assertThrows(IllegalStateException.class, () -> agent.createBackend("UCX", java.util.Map.of()));
            assertTrue(agent.availablePlugins().contains("UCX"));
            assertTrue(agent.pluginInfo("UCX").memoryKinds().contains(MemoryKind.DRAM));
            assertEquals(1, agent.backends().size());
        }
    }

    @Test
    void everyUseAfterCloseThrowsAlreadyClosedAndCloseIsIdempotent() throws Exception {
        AgentPair p = new AgentPair();
        HostBuffer src = p.buffer(p.a, 4096);
        HostBuffer dst = p.buffer(p.b, 4096);
        Registration reg = p.register(p.a, src);
        p.register(p.b, dst);
        p.connect();
        Transfer t = p.a.createTransfer(TransferOp.WRITE, MemoryKind.DRAM, List.of(src.descriptor()), MemoryKind.DRAM,
                List.of(dst.descriptor()), p.b.name(), null);
        p.a.close();
        p.a.close();
        assertTrue(p.a.isClosed());
        assertThrows(AlreadyClosedException.class, p.a::localMetadata);
        assertThrows(AlreadyClosedException.class, () -> p.a.register(src));
        assertThrows(AlreadyClosedException.class, () -> p.a.createTransfer(TransferOp.WRITE, MemoryKind.DRAM,
                List.of(src.descriptor()), MemoryKind.DRAM, List.of(dst.descriptor()), p.b.name(), null));
        assertThrows(AlreadyClosedException.class, t::post);
        assertThrows(AlreadyClosedException.class, t::status);
        assertTrue(t.isClosed());
        t.close(); // no-op
        assertTrue(reg.isClosed(), "agent close deregisters");
        reg.close(); // no-op
        src.close(); // unpinned by the agent's close
        assertThrows(AlreadyClosedException.class, src::address);
        NixlAgent.Stats s = p.a.stats();
        assertTrue(s.closed());
        assertEquals(0, s.openTransfers());
        assertEquals(0, s.openRegistrations());
        p.close();
    }

    @Test
    void aRegisteredBufferRefusesToCloseSoNixlNeverHoldsFreedMemory() throws Exception {
        try (AgentPair p = new AgentPair()) {
            HostBuffer buf = p.buffer(p.a, 4096);
            Registration r = p.register(p.a, buf);
            IllegalStateException e = assertThrows(IllegalStateException.class, buf::close);
            assertTrue(e.getMessage().contains("still registered"));
            buf.write(0, new byte[] {1}); // still alive
            r.close();
            buf.close();
            assertTrue(buf.isClosed());
        }
    }

    @Test
    void badConfigIsRejectedNamingTheField() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AgentConfig.defaults().withListener(70000));
        assertTrue(e.getMessage().contains("listenPort"));
        assertThrows(IllegalArgumentException.class, () -> NixlAgent.create(" ", AgentConfig.defaults()));
    }
}
