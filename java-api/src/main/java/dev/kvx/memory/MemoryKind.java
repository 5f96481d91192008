package dev.kvx.memory;

/** Where a buffer lives, with NIXL's numbering ({@code nixl_capi_mem_type_t}). */
public enum MemoryKind {
    /** Host memory. */
    DRAM(0),
    /** GPU memory; the descriptor's device id is the CUDA ordinal. */
    VRAM(1);

    private final int nixlCode;

    MemoryKind(int nixlCode) {
        this.nixlCode = nixlCode;
    }

    /** NIXL's value for this kind. */
    public int nixlCode() {
        return nixlCode;
    }
}
