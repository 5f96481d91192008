/**
 * The CUDA runtime from Java: device discovery ({@link dev.kvx.cuda.Cuda#probe()}, graceful without a
 * GPU), device memory ({@link dev.kvx.cuda.DeviceBuffer}) and the CUDA status mapping
 * ({@link dev.kvx.cuda.CudaException}).
 */
package dev.kvx.cuda;
