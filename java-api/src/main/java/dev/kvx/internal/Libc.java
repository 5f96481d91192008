package dev.kvx.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The libc functions kvx needs beside the generated bindings: {@code free} (NIXL hands out malloc'd
 * metadata blobs, agent names and notification copies, and has no free function of its own),
 * {@code calloc} (request records, freed explicitly when their last owner lets go), {@code mmap},
 * {@code munmap} and {@code madvise} (huge-page host buffers) and {@code setenv}/{@code unsetenv}/
 * {@code getenv} (NIXL and UCX read some settings from the process environment, which
 * {@link System#getenv} only snapshots at JVM start).
 */
public final class Libc {
    static {
        NativeLibraries.warnIfNativeAccessOff(); // before the first restricted call below
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle FREE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    private static final MethodHandle CALLOC = LINKER.downcallHandle(
            LINKER.defaultLookup().find("calloc").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle MMAP = LINKER.downcallHandle(
            LINKER.defaultLookup().find("mmap").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle MUNMAP = LINKER.downcallHandle(
            LINKER.defaultLookup().find("munmap").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle MADVISE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("madvise").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    /** madvise(2): back the range with transparent huge pages. */
    public static final int MADV_HUGEPAGE = 14;
    private static final MethodHandle SETENV = LINKER.downcallHandle(
            LINKER.defaultLookup().find("setenv").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    private static final MethodHandle UNSETENV = LINKER.downcallHandle(
            LINKER.defaultLookup().find("unsetenv").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle GETENV = LINKER.downcallHandle(
            LINKER.defaultLookup().find("getenv").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS));

    private Libc() {}

    /** Frees memory that a native library allocated with malloc; NULL is ignored. */
    public static void free(MemorySegment p) {
        if (p == null || p.equals(MemorySegment.NULL)) {
            return;
        }
        try {
            FREE.invokeExact(p);
        } catch (Throwable t) {
            throw new AssertionError("libc free failed", t);
        }
    }

    /**
     * Allocates {@code bytes} zeroed bytes with calloc; the caller frees them with {@link #free}. The
     * segment has the global scope: the caller guarantees that nothing reads it after the free.
     *
     * @throws OutOfMemoryError if calloc returns NULL
     */
    public static MemorySegment calloc(long bytes) {
        MemorySegment p;
        try {
            p = (MemorySegment) CALLOC.invokeExact(1L, bytes);
        } catch (Throwable t) {
            throw new AssertionError("libc calloc failed", t);
        }
        if (p.equals(MemorySegment.NULL)) {
            throw new OutOfMemoryError("calloc of " + bytes + " B failed");
        }
        return p.reinterpret(bytes);
    }

    /**
     * Maps {@code bytes} of anonymous, private, zeroed memory (mmap(2)); the caller unmaps it with
     * {@link #munmap}. No page is touched.
     *
     * @throws OutOfMemoryError if the mapping fails
     */
    public static MemorySegment mmapAnonymous(long bytes) {
        MemorySegment p;
        try {
            p = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, bytes, 0x1 | 0x2, 0x02 | 0x20, -1, 0L); // RW, PRIVATE|ANONYMOUS
        } catch (Throwable t) {
            throw new AssertionError("libc mmap failed", t);
        }
        if (p.address() == -1L || p.equals(MemorySegment.NULL)) {
            throw new OutOfMemoryError("mmap of " + bytes + " B failed");
        }
        return p;
    }

    /** Unmaps what {@link #mmapAnonymous} mapped. */
    public static void munmap(MemorySegment base, long bytes) {
        try {
            int rc = (int) MUNMAP.invokeExact(base, bytes);
            if (rc != 0) {
                throw new IllegalStateException("munmap of " + bytes + " B at " + Long.toHexString(base.address()) + " failed");
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("libc munmap failed", t);
        }
    }

    /** madvise(2) on a range; returns false if the kernel refused (the advice is only advice). */
    public static boolean madvise(long address, long bytes, int advice) {
        try {
            return (int) MADVISE.invokeExact(MemorySegment.ofAddress(address), bytes, advice) == 0;
        } catch (Throwable t) {
            throw new AssertionError("libc madvise failed", t);
        }
    }

    /** Sets a process environment variable (visible to native code, not to {@link System#getenv}). */
    public static void setenv(String name, String value) {
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) SETENV.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), 1);
            if (rc != 0) {
                throw new IllegalStateException("setenv(" + name + ") failed");
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("libc setenv failed", t);
        }
    }

    /** Removes a process environment variable (as native code sees it); absent is fine. */
    public static void unsetenv(String name) {
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) UNSETENV.invokeExact(arena.allocateFrom(name));
            if (rc != 0) {
                throw new IllegalStateException("unsetenv(" + name + ") failed");
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("libc unsetenv failed", t);
        }
    }

    /**
     * A process environment variable as native code sees it now (including {@link #setenv} changes),
     * or null when unset.
     */
    public static String getenv(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) GETENV.invokeExact(arena.allocateFrom(name));
            return p.equals(MemorySegment.NULL) ? null : p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("libc getenv failed", t);
        }
    }
}
