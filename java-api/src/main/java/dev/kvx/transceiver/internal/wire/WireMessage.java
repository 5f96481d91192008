package dev.kvx.transceiver.internal.wire;

import java.util.Arrays;

/**
 * The messages two transceivers exchange as NIXL notifications (wire version 2). Every message travels
 * in a {@link WireCodec frame} that names its session, carries a per-direction sequence number and ends
 * with a MAC; request messages carry the full request id and the attempt's epoch.
 *
 * <p>Protocol, push mode (the default): the generation side <i>announces</i> its blocks
 * ({@link Announce}), the context side <i>moves</i> the data with a NIXL WRITE that carries
 * {@link Done} as its completion notification. Pull mode swaps the roles: the context side announces
 * its blocks and the generation side READs them, with {@link Done} delivered to the context side
 * after the READ. Either side may give up with {@link Abort}; the mover confirms with
 * {@link Released} that nothing of an attempt can touch the announcer's memory any more.
 */
public sealed interface WireMessage {
    /** The request this message is about (0 for connection messages). */
    default long requestId() {
        return 0;
    }

    /** The attempt it belongs to (0 for connection messages). */
    default int epoch() {
        return 0;
    }

    /** The message type on the wire. */
    MessageType type();

    /**
     * Handshake 1/3, initiator to acceptor, MAC'd with the handshake key derived from the secret.
     *
     * @param nonce 16 fresh random bytes
     * @param instance the sender's random instance id (one per transceiver lifetime)
     * @param name the sender's NIXL agent name (must equal the notification's sender)
     * @param pool the sender's pool and protocol settings, checked for compatibility
     */
    record Hello(byte[] nonce, long instance, String name, PoolInfo pool) implements WireMessage {
        @Override
        public MessageType type() {
            return MessageType.HELLO;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Hello h && Arrays.equals(h.nonce, nonce) && h.instance == instance && h.name.equals(name)
                    && h.pool.equals(pool);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(nonce) ^ name.hashCode();
        }
    }

    /**
     * Handshake 2/3, acceptor to initiator: echoes the initiator's nonce and adds its own, MAC'd with the
     * handshake key (proves the acceptor holds the secret, freshly).
     */
    record Challenge(byte[] initiatorNonce, byte[] nonce, long instance, String name, PoolInfo pool) implements WireMessage {
        @Override
        public MessageType type() {
            return MessageType.CHALLENGE;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Challenge c && Arrays.equals(c.initiatorNonce, initiatorNonce) && Arrays.equals(c.nonce, nonce)
                    && c.instance == instance && c.name.equals(name) && c.pool.equals(pool);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(nonce) ^ name.hashCode();
        }
    }

    /** Handshake 3/3, initiator to acceptor, MAC'd with the new session key (proves the initiator is live). */
    record Confirm() implements WireMessage {
        @Override
        public MessageType type() {
            return MessageType.CONFIRM;
        }
    }

    /** Handshake answer that refuses the session, naming why (incompatible settings); MAC'd with the handshake key. */
    record Refused(String reason) implements WireMessage {
        @Override
        public MessageType type() {
            return MessageType.REFUSED;
        }
    }

    /**
     * The announcer's blocks for one attempt: where the mover writes (push) or reads (pull).
     *
     * @param bufferIndex the announcer's staging slot
     * @param pull whether the mover READs (pull mode) rather than WRITEs
     * @param blockIds block indices in the announcer's pool, in request order
     */
    record Announce(long requestId, int epoch, int bufferIndex, boolean pull, int[] blockIds) implements WireMessage {
        /** Copies the ids. */
        public Announce {
            blockIds = blockIds.clone();
        }

        /** A copy of the block ids. */
        @Override
        public int[] blockIds() {
            return blockIds.clone();
        }

        /** Number of blocks. */
        public int blockCount() {
            return blockIds.length;
        }

        /** One block id, without copying. */
        public int blockId(int i) {
            return blockIds[i];
        }

        @Override
        public MessageType type() {
            return MessageType.ANNOUNCE;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Announce a && a.requestId == requestId && a.epoch == epoch && a.bufferIndex == bufferIndex
                    && a.pull == pull && Arrays.equals(a.blockIds, blockIds);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(requestId) * 31 + epoch;
        }

        @Override
        public String toString() {
            return "Announce[id=" + requestId + ", epoch=" + epoch + ", slot=" + bufferIndex + ", " + (pull ? "pull" : "push")
                    + ", " + blockIds.length + " block(s)]";
        }
    }

    /** Mover to announcer, attached to the data transfer: the blocks are in place (push) or were read (pull). */
    record Done(long requestId, int epoch) implements WireMessage {
        @Override
        public MessageType type() {
            return MessageType.DONE;
        }
    }

    /**
     * Either way: the sender gave up on the attempt (reason: 1 deadline, 2 cancel, 3 mismatch, 4 refused,
     * 5 failure). {@code fromMover} says which of the attempt's two sides sent it, so that a transceiver
     * that both sends and receives one id with one peer routes it to the right request.
     */
    record Abort(long requestId, int epoch, int reason, boolean fromMover) implements WireMessage {
        @Override
        public MessageType type() {
            return MessageType.ABORT;
        }
    }

    /**
     * Mover to announcer: nothing of this attempt can touch the announcer's memory any more (the transfer
     * reached a terminal status, or never started), so its quarantined blocks may be reused.
     */
    record Released(long requestId, int epoch) implements WireMessage {
        @Override
        public MessageType type() {
            return MessageType.RELEASED;
        }
    }

    /** Liveness probe; its arrival is all it says. A failed send of it means the peer's endpoint failed. */
    record Ping() implements WireMessage {
        @Override
        public MessageType type() {
            return MessageType.PING;
        }
    }
}
