package dev.kvx.transceiver.internal.wire;

import java.util.ArrayList;
import java.util.List;

/**
 * What a transceiver tells a peer about itself at the handshake: its KV pool (memory kind, device, block
 * size and count, the model shape) and protocol settings. Two sides whose settings cannot work together
 * are refused with {@link #differences} naming each mismatch.
 *
 * @param vram whether the pool is in GPU memory
 * @param deviceId the pool's CUDA device (0 for host memory)
 * @param baseAddress address of block 0 (block i starts at base + i × blockBytes)
 * @param blockBytes bytes per block
 * @param blockCount blocks in the pool (announced block ids must be below it)
 * @param layers model layers per block
 * @param kvHeads KV heads
 * @param headSize head dimension
 * @param dtypeBytes bytes per element
 * @param tokensPerBlock tokens per block
 * @param pull whether the side runs pull mode (the mover READs)
 */
public record PoolInfo(boolean vram, int deviceId, long baseAddress, long blockBytes, int blockCount, int layers, int kvHeads, int headSize,
                       int dtypeBytes, int tokensPerBlock, boolean pull) {
    /** Encoded size in bytes. */
    public static final int BYTES = 1 + 4 + 8 + 8 + 4 + 4 * 5 + 1;

    /** The settings of the two sides that prevent them from working together; empty if none. */
    public List<String> differences(PoolInfo peer) {
        List<String> out = new ArrayList<>();
        if (blockBytes != peer.blockBytes) {
            out.add("block size " + blockBytes + " B here, " + peer.blockBytes + " B at the peer");
        }
        if (layers != peer.layers || kvHeads != peer.kvHeads || headSize != peer.headSize || dtypeBytes != peer.dtypeBytes
                || tokensPerBlock != peer.tokensPerBlock) {
            out.add("KV layout " + shape() + " here, " + peer.shape() + " at the peer");
        }
        if (pull != peer.pull) {
            out.add("transfer mode " + (pull ? "PULL" : "PUSH") + " here, " + (peer.pull ? "PULL" : "PUSH") + " at the peer");
        }
        return out;
    }

    private String shape() {
        return layers + " layers x " + kvHeads + " KV heads x " + headSize + " x " + dtypeBytes + " B, " + tokensPerBlock
                + " tokens/block";
    }
}
