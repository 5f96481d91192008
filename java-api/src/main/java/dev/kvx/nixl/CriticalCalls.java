package dev.kvx.nixl;

import static dev.kvx.internal.gen.nixl.NixlCapi.*;

import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * The few NIXL calls on the polling hot path, bound with {@link Linker.Option#critical(boolean)}:
 * the call skips the Java-to-native thread-state transition, which the benchmark suite shows is most
 * of FFM's cost for calls this short (a status poll is ~8 ns in C). Only calls that return promptly and
 * never block or call back into Java qualify: {@code nixl_capi_get_xfer_status} (one UCX progress pass
 * and a state read), {@code nixl_capi_get_notifs} (a progress pass and a map swap) and
 * {@code nixl_capi_notif_map_size}. A critical call holds off the JVM's safepoints for its duration,
 * so nothing that can wait (post, create, metadata, memory registration) is bound this way. The
 * handles reuse jextract's addresses and descriptors; the generated code is untouched.
 */
final class CriticalCalls {
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);
    private static final MethodHandle GET_XFER_STATUS = Linker.nativeLinker().downcallHandle(
            nixl_capi_get_xfer_status$address(), nixl_capi_get_xfer_status$descriptor(), CRITICAL);
    private static final MethodHandle GET_NOTIFS = Linker.nativeLinker().downcallHandle(
            nixl_capi_get_notifs$address(), nixl_capi_get_notifs$descriptor(), CRITICAL);
    private static final MethodHandle NOTIF_MAP_SIZE = Linker.nativeLinker().downcallHandle(
            nixl_capi_notif_map_size$address(), nixl_capi_notif_map_size$descriptor(), CRITICAL);

    private CriticalCalls() {}

    /** Forces the class (and its three handles) to initialise. */
    static void link() {
        // the static initialiser did the work
    }

    static int getXferStatus(MemorySegment agent, MemorySegment req) {
        try {
            return (int) GET_XFER_STATUS.invokeExact(agent, req);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getNotifs(MemorySegment agent, MemorySegment map, MemorySegment optArgs) {
        try {
            return (int) GET_NOTIFS.invokeExact(agent, map, optArgs);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int notifMapSize(MemorySegment map, MemorySegment size) {
        try {
            return (int) NOTIF_MAP_SIZE.invokeExact(map, size);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("downcall threw a checked exception", t);
    }
}
