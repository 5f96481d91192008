package dev.kvx.cuda;

import static dev.kvx.internal.gen.cudart.CudaRuntime.*;

import dev.kvx.NativeLibraryException;
import dev.kvx.internal.NativeLibraries;
import dev.kvx.internal.gen.cudart.cudaDeviceProp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Entry point to the CUDA runtime ({@code libcudart.so.13}, loaded from the native folder). The
 * runtime loads on any machine; it looks for the driver ({@code libcuda.so.1}) lazily at the first
 * call, so without a driver {@link #probe()} reports "no CUDA device" with the runtime's own text and
 * nothing else in kvx is affected.
 */
public final class Cuda {
    private static final System.Logger LOG = System.getLogger(Cuda.class.getName());
    private Cuda() {}

    /** Describes the CUDA devices, or why there are none. Never throws for a missing GPU or driver. */
    public static CudaInfo probe() {
        try {
            NativeLibraries.loadCudart();
        } catch (NativeLibraryException e) {
            LOG.log(System.Logger.Level.DEBUG, "no CUDA: {0}", e.getMessage());
            return new CudaInfo(false, 0, 0, List.of(), "CUDA runtime not loaded: " + e.getMessage());
        }
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.JAVA_INT);
            int runtime = cudaRuntimeGetVersion(out) == 0 ? out.get(ValueLayout.JAVA_INT, 0) : 0;
            int driver = cudaDriverGetVersion(out) == 0 ? out.get(ValueLayout.JAVA_INT, 0) : 0;
            int rc = cudaGetDeviceCount(out);
            if (rc != 0) {
                cudaGetLastError(); // clear the sticky-less error so later calls start clean
                return new CudaInfo(false, runtime, driver, List.of(),
                        "no CUDA device: cudaGetDeviceCount returned " + errorName(rc) + " (" + rc + "): " + errorText(rc));
            }
            int count = out.get(ValueLayout.JAVA_INT, 0);
            List<CudaDevice> devices = new ArrayList<>();
            MemorySegment prop = cudaDeviceProp.allocate(tmp);
            for (int i = 0; i < count; i++) {
                check(cudaGetDeviceProperties(prop, i), "cudaGetDeviceProperties", "device " + i);
                devices.add(new CudaDevice(i, cudaDeviceProp.name(prop).getString(0), cudaDeviceProp.totalGlobalMem(prop),
                        cudaDeviceProp.major(prop), cudaDeviceProp.minor(prop), cudaDeviceProp.multiProcessorCount(prop),
                        cudaDeviceProp.pciBusID(prop)));
            }
            return new CudaInfo(count > 0, runtime, driver, devices, count > 0 ? "" : "no CUDA device: the driver reports 0 devices");
        }
    }

    /** The runtime's name of an error code. */
    public static String errorName(int code) {
        return NativeLibraries.string(cudaGetErrorName(code));
    }

    /** The runtime's description of an error code. */
    public static String errorText(int code) {
        return NativeLibraries.string(cudaGetErrorString(code));
    }

    /** Throws {@link CudaException} for a non-zero code. The one CUDA status mapper. */
    static void check(int rc, String call, String detail) {
        if (rc != 0) {
            throw new CudaException(call, rc, errorName(rc), errorText(rc), detail);
        }
    }

    /**
     * Ensures the runtime is loaded and at least one device exists.
     *
     * @throws CudaException (cudaErrorNoDevice-like) with the probe's reason otherwise
     */
    static void requireDevice(int ordinal) {
        CudaInfo info = probe();
        if (!info.available() || ordinal >= info.deviceCount() || ordinal < 0) {
            throw new CudaException("cudaSetDevice", 100, "cudaErrorNoDevice", info.available()
                    ? "device " + ordinal + " does not exist (" + info.deviceCount() + " device(s))" : info.reason(), null);
        }
    }
}
