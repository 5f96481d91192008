package dev.kvx.cuda;

import java.util.List;

/**
 * What the CUDA runtime reports on this machine. "No GPU" is a normal state: {@link #available()} is
 * false and {@link #reason()} holds the runtime's own error text (or why the runtime did not load).
 *
 * @param available whether at least one device can be used
 * @param runtimeVersion CUDA runtime version (e.g. 13000), 0 if the runtime did not load
 * @param driverVersion the driver's CUDA version, 0 without a driver
 * @param devices the devices found
 * @param reason why none can be used, empty when available
 */
public record CudaInfo(boolean available, int runtimeVersion, int driverVersion, List<CudaDevice> devices,
                       String reason) {
    /** Copies the device list. */
    public CudaInfo {
        devices = List.copyOf(devices);
    }

    /** Number of usable devices. */
    public int deviceCount() {
        return devices.size();
    }

    /** A version number like 13000 as "13.0". */
    public static String versionString(int v) {
        return v <= 0 ? "none" : (v / 1000) + "." + (v % 1000) / 10;
    }
}
