package dev.kvx.transceiver;

/**
 * Caps on what peers can make a transceiver hold, per peer and in total, each checked before anything is
 * copied or stored; what a cap refuses is counted in the metrics ({@code refused*}). Every value is
 * validated, naming its field.
 *
 * @param maxMessageBytes largest notification taken from NIXL; a longer one is dropped without being
 *        copied onto the heap (the largest valid kvx message is an announcement of 65,536 blocks, 256 KiB)
 * @param maxPendingAnnouncesPerPeer announcements kept for requests not submitted here yet, per peer
 * @param maxPendingAnnounceBytesPerPeer their bytes, per peer
 * @param maxPendingAnnouncesTotal the same, over all peers
 * @param maxPendingAnnounceBytesTotal their bytes, over all peers
 * @param maxPeers connected peers (sessions); an idle one is evicted to admit a new one
 * @param maxPendingHandshakes handshakes under way at once; also the metadata copies kept for admitted peers that
 *        have not connected (the oldest is released to admit a newer one)
 * @param maxMetadataBytes largest peer metadata accepted (NIXL metadata of one pool is a few KiB)
 */
public record TransceiverLimits(int maxMessageBytes, int maxPendingAnnouncesPerPeer, long maxPendingAnnounceBytesPerPeer,
                                int maxPendingAnnouncesTotal, long maxPendingAnnounceBytesTotal, int maxPeers,
                                int maxPendingHandshakes, int maxMetadataBytes) {
    /** Validates every field by name. */
    public TransceiverLimits {
        positive("maxMessageBytes", maxMessageBytes);
        positive("maxPendingAnnouncesPerPeer", maxPendingAnnouncesPerPeer);
        positive("maxPendingAnnounceBytesPerPeer", maxPendingAnnounceBytesPerPeer);
        positive("maxPendingAnnouncesTotal", maxPendingAnnouncesTotal);
        positive("maxPendingAnnounceBytesTotal", maxPendingAnnounceBytesTotal);
        positive("maxPeers", maxPeers);
        positive("maxPendingHandshakes", maxPendingHandshakes);
        positive("maxMetadataBytes", maxMetadataBytes);
        if (maxMessageBytes < 1024) {
            throw new IllegalArgumentException("maxMessageBytes must be >= 1024, got " + maxMessageBytes);
        }
    }

    /** 512 KiB messages; 1,024 pending announcements (8 MiB) per peer, 16,384 (64 MiB) in all; 256 peers; 64 handshakes; 16 MiB metadata. */
    public static TransceiverLimits defaults() {
        return new TransceiverLimits(512 << 10, 1024, 8L << 20, 16_384, 64L << 20, 256, 64, 16 << 20);
    }

    /** A copy with another per-peer and total cap on pending announcements (count; bytes unchanged). */
    public TransceiverLimits withPendingAnnounces(int perPeer, int total) {
        return new TransceiverLimits(maxMessageBytes, perPeer, maxPendingAnnounceBytesPerPeer, total, maxPendingAnnounceBytesTotal,
                maxPeers, maxPendingHandshakes, maxMetadataBytes);
    }

    /** A copy with another message size cap. */
    public TransceiverLimits withMaxMessageBytes(int bytes) {
        return new TransceiverLimits(bytes, maxPendingAnnouncesPerPeer, maxPendingAnnounceBytesPerPeer, maxPendingAnnouncesTotal,
                maxPendingAnnounceBytesTotal, maxPeers, maxPendingHandshakes, maxMetadataBytes);
    }

    /** A copy with another peer cap. */
    public TransceiverLimits withMaxPeers(int peers) {
        return new TransceiverLimits(maxMessageBytes, maxPendingAnnouncesPerPeer, maxPendingAnnounceBytesPerPeer, maxPendingAnnouncesTotal,
                maxPendingAnnounceBytesTotal, peers, maxPendingHandshakes, maxMetadataBytes);
    }

    private static void positive(String field, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(field + " must be > 0, got " + v);
        }
    }
}
