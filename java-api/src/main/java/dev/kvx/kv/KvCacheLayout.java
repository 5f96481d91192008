package dev.kvx.kv;

/**
 * The shape of one KV-cache block: {@code tokensPerBlock} tokens of K and V for every layer and KV
 * head. Block bytes = tokensPerBlock × layers × 2 × kvHeads × headSize × dtypeBytes.
 *
 * @param tokensPerBlock tokens per block (e.g. 32)
 * @param layers transformer layers (e.g. 28)
 * @param kvHeads KV heads per layer (e.g. 8)
 * @param headSize head dimension (e.g. 128)
 * @param dtypeBytes bytes per element (2 for bf16)
 */
public record KvCacheLayout(int tokensPerBlock, int layers, int kvHeads, int headSize, int dtypeBytes) {
    /** Validates every field by name. */
    public KvCacheLayout {
        positive("tokensPerBlock", tokensPerBlock);
        positive("layers", layers);
        positive("kvHeads", kvHeads);
        positive("headSize", headSize);
        positive("dtypeBytes", dtypeBytes);
    }

    /** A small real model's shape: 28 layers × 8 KV heads × head size 128, bf16 (112 KiB per token). */
    public static KvCacheLayout small(int tokensPerBlock) {
        return new KvCacheLayout(tokensPerBlock, 28, 8, 128, 2);
    }

    /** Bytes of K and V for one token across all layers. */
    public long bytesPerToken() {
        return (long) layers * 2 * kvHeads * headSize * dtypeBytes;
    }

    /** Bytes of one block. */
    public long blockBytes() {
        return bytesPerToken() * tokensPerBlock;
    }

    /** Blocks needed to hold {@code tokens} tokens. */
    public int blocksFor(int tokens) {
        return (tokens + tokensPerBlock - 1) / tokensPerBlock;
    }

    private static void positive(String field, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + v);
        }
    }
}
