package dev.kvx.memory;

/**
 * A block of native memory kvx can register with NIXL: host memory ({@link HostBuffer}) or device
 * memory ({@code dev.kvx.cuda.DeviceBuffer}). A buffer cannot be closed while a registration still
 * pins it, so NIXL never holds a registration of freed memory.
 */
public interface NativeBuffer extends AutoCloseable {
    /** Where the memory lives. */
    MemoryKind kind();

    /** The CUDA ordinal for device memory, 0 for host memory. */
    int deviceId();

    /** Size in bytes. */
    long size();

    /**
     * The start address, for descriptors sent to a peer.
     *
     * @throws dev.kvx.AlreadyClosedException if the buffer was closed
     */
    long address();

    /**
     * A descriptor of part of this buffer.
     *
     * @param offset start within the buffer
     * @param length bytes, positive
     * @throws IndexOutOfBoundsException if the range leaves the buffer
     */
    default MemoryDescriptor descriptor(long offset, long length) {
        if (offset < 0 || length <= 0 || offset > size() - length) {
            throw new IndexOutOfBoundsException("range [" + offset + ", +" + length + ") outside a buffer of "
                    + size() + " bytes");
        }
        return new MemoryDescriptor(address() + offset, length, deviceId());
    }

    /** A descriptor of the whole buffer. */
    default MemoryDescriptor descriptor() {
        return descriptor(0, size());
    }

    /** Copies heap bytes into the buffer at {@code offset} (synchronously, for device memory too). */
    void copyFromHost(long offset, byte[] src);

    /** Copies {@code dst.length} bytes at {@code offset} out of the buffer into the heap. */
    void copyToHost(long offset, byte[] dst);

    /** Marks the buffer as registered with NIXL: it refuses to close until {@link #unpin()}. Internal use. */
    void pin();

    /** Undoes one {@link #pin()}. Internal use. */
    void unpin();

    /**
     * Frees the memory; idempotent and thread-safe.
     *
     * @throws IllegalStateException if a NIXL registration still pins it
     */
    @Override
    void close();
}
