package dev.kvx.transceiver;

import static dev.kvx.transceiver.TransceiverPair.eventually;
import static org.junit.jupiter.api.Assertions.*;

import dev.kvx.transceiver.internal.wire.MessageType;
import dev.kvx.transceiver.internal.wire.WireCodec;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link FaultInjector#sent}: it shows exactly the frames that went on the wire (what an eavesdropper
 * captures, and what the soak's hostile peer replays): the handshake, then the request's messages in the
 * session; sent again, such a frame is refused as a replay.
 */
class WireTapTest {
    private record Tapped(String peer, byte[] frame) {}

    @Test
    void theTapSeesEveryFrameThatLeftAndASeenFrameSentAgainIsAReplay() throws Exception {
        ConcurrentLinkedQueue<Tapped> tapped = new ConcurrentLinkedQueue<>();
        FaultInjector tap = new FaultInjector() {
            @Override
            public void sent(String peer, byte[] frame) {
                tapped.add(new Tapped(peer, frame.clone()));
            }
        };
        Duration timeout = Duration.ofSeconds(30);
        try (TransceiverPair p = new TransceiverPair(TransceiverPair.quick(timeout), TransceiverPair.quick(timeout).withFaults(tap), 64)) {
            LlmRequest c = p.filledContextRequest(7, 3, new Random(7));
            LlmRequest g = p.gen.createRequest(7, 3);
            p.gen.receive(g, p.ctx.name());
            p.ctx.send(c, p.gen.name());
            assertEquals(TransferOutcome.Status.COMPLETED, g.outcome().get(30, TimeUnit.SECONDS).status());
            assertEquals(TransferOutcome.Status.COMPLETED, c.outcome().get(30, TimeUnit.SECONDS).status());
            List<MessageType> types = tapped.stream().map(t -> WireCodec.checkHeader(t.frame())).toList();
            assertTrue(tapped.stream().allMatch(t -> t.peer().equals(p.ctx.name())), tapped::toString);
            assertEquals(MessageType.HELLO, types.get(0), types::toString); // the generation side opened the session
            assertTrue(types.contains(MessageType.CONFIRM) && types.contains(MessageType.ANNOUNCE), types::toString);
            byte[] announce = tapped.stream().filter(t -> WireCodec.checkHeader(t.frame()) == MessageType.ANNOUNCE).findFirst()
                    .orElseThrow().frame();
            long sid = WireCodec.sessionIdOf(announce);
            assertTrue(tapped.stream().filter(t -> !WireCodec.checkHeader(t.frame()).usesHandshakeKey())
                    .allMatch(t -> WireCodec.sessionIdOf(t.frame()) == sid), "one session");
            long replays = p.ctx.metrics().snapshot().refusedReplay();
            p.gen.sendRawBytesForTest(p.ctx.name(), announce); // by the real sender's own agent
            assertTrue(eventually(() -> p.ctx.metrics().snapshot().refusedReplay() == replays + 1), p::describe);
            assertEquals(1, p.ctx.metrics().snapshot().completed(), p::describe);
            c.close();
            g.close();
        }
    }
}
