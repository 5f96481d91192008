package dev.kvx.cuda;

/**
 * One CUDA device as the runtime describes it.
 *
 * @param ordinal CUDA device ordinal (NIXL's device id for VRAM)
 * @param name product name
 * @param totalMemory bytes of device memory
 * @param computeMajor compute capability, major
 * @param computeMinor compute capability, minor
 * @param multiProcessors streaming multiprocessors
 * @param pciBusId PCI bus id
 */
public record CudaDevice(int ordinal, String name, long totalMemory, int computeMajor, int computeMinor,
                         int multiProcessors, int pciBusId) {}
