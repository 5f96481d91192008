package dev.kvx.transceiver;

import java.util.List;

/**
 * The messages two transceivers exchange as NIXL notifications. Every message carries the full
 * request id and the attempt's epoch, so a late message of a finished attempt can never complete
 * another request (the reference keeps 12 bits of the id and a fixed tag).
 */
public sealed interface WireMessage {
    /** The request this message is about. */
    long requestId();

    /** The attempt it belongs to. */
    int epoch();

    /**
     * Generation → context: where to write the request's KV blocks.
     *
     * @param requestId request
     * @param epoch attempt
     * @param bufferIndex the receiver's staging slot
     * @param blockBytes size of every block
     * @param blockAddresses addresses of the receiver's blocks, in order
     * @param deviceId device id of the receiver's memory (0 for DRAM)
     * @param vram whether the receiver's blocks are in VRAM
     */
    record RequestInfo(long requestId, int epoch, int bufferIndex, long blockBytes, List<Long> blockAddresses,
                       int deviceId, boolean vram) implements WireMessage {
        /** Copies the list. */
        public RequestInfo {
            blockAddresses = List.copyOf(blockAddresses);
        }
    }

    /** Context → generation, attached to the data WRITE: the blocks are in place. */
    record DataDone(long requestId, int epoch) implements WireMessage {}

    /** Either way: the sender gave up on the request (cancel or deadline). */
    record Abort(long requestId, int epoch, int reason) implements WireMessage {}

    /**
     * Context → generation: nothing of this attempt can touch the receiver's memory any more (the
     * transfer ended or never started), so quarantined blocks may be reused.
     */
    record Released(long requestId, int epoch) implements WireMessage {}

    /**
     * Either way, once per connection: the sender's NIXL metadata, so that the receiver can load it
     * again after it had to disconnect the sender (a peer that missed a Released notice is
     * disconnected for safety and then reconnected from this copy, instead of staying unreachable).
     * Belongs to no request: id and epoch are 0.
     *
     * @param metadata the sender's agent metadata, as {@code nixl_capi_get_local_md} returns it
     * @param wantsReply whether the receiver should answer with its own metadata
     */
    record PeerMetadata(byte[] metadata, boolean wantsReply) implements ConnectionMessage {
        /** Copies the bytes. */
        public PeerMetadata {
            metadata = metadata.clone();
        }

        /** A copy of the metadata bytes (the record's own stay unchanged). */
        @Override
        public byte[] metadata() {
            return metadata.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof PeerMetadata p && p.wantsReply == wantsReply && java.util.Arrays.equals(p.metadata, metadata);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(metadata) * 31 + Boolean.hashCode(wantsReply);
        }

        @Override
        public String toString() {
            return "PeerMetadata[" + metadata.length + " B, wantsReply=" + wantsReply + "]";
        }
    }

    /**
     * Either way, every {@link CacheTransceiver#PEER_CHECK_INTERVAL} to each peer with requests in
     * flight: a peer whose process died makes the send fail at once (UCX's peer error handling), so
     * its requests end FAILED right away instead of TIMED_OUT at their deadline. Carries nothing; the
     * receiver drops it. Belongs to no request: id and epoch are 0.
     */
    record Ping() implements ConnectionMessage {}

    /** A message about the connection, not a request: id and epoch are 0; faults are never injected into it. */
    sealed interface ConnectionMessage extends WireMessage permits PeerMetadata, Ping {
        @Override
        default long requestId() {
            return 0;
        }

        @Override
        default int epoch() {
            return 0;
        }
    }
}
