package dev.kvx.memory;

/**
 * One contiguous range of registered memory as NIXL sees it: an address, a length and a device id
 * (the CUDA ordinal for VRAM, 0 for DRAM). Descriptors of a remote agent are plain numbers that came
 * over the wire; kvx never dereferences them.
 *
 * @param address start address
 * @param length length in bytes, positive
 * @param deviceId CUDA ordinal for VRAM, 0 for DRAM
 */
public record MemoryDescriptor(long address, long length, long deviceId) {
    /** Validates the range. */
    public MemoryDescriptor {
        if (address == 0) {
            throw new IllegalArgumentException("descriptor address is NULL");
        }
        if (length <= 0) {
            throw new IllegalArgumentException("descriptor length must be positive, got " + length);
        }
        if (deviceId < 0) {
            throw new IllegalArgumentException("descriptor device id must be >= 0, got " + deviceId);
        }
    }
}
