/**
 * The CUDA runtime from Java: device discovery ({@link dev.kvx.cuda.Cuda#probe()}, graceful without a
 * GPU), device memory ({@link dev.kvx.cuda.DeviceBuffer}) and the CUDA status mapping
 * ({@link dev.kvx.cuda.CudaException}).
 *
 * {@snippet class=dev.kvx.snippets.ApiSnippets region=probe}
 */
package dev.kvx.cuda;
