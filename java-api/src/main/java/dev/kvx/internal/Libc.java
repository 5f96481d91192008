package dev.kvx.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The two libc functions kvx needs beside the generated bindings: {@code free} (NIXL hands out
 * malloc'd metadata blobs, agent names and notification copies, and has no free function of its
 * own) and {@code setenv}/{@code unsetenv}/{@code getenv} (NIXL and UCX read some settings from the
 * process environment, which {@link System#getenv} only snapshots at JVM start).
 */
public final class Libc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle FREE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
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
