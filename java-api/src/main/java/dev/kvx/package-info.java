/**
 * kvx: moves KV-cache blocks between the prefill and decode workers of a disaggregated LLM server,
 * from Java, over the real NIXL transfer library and the CUDA runtime (Panama FFM).
 *
 * <p>Layout: {@link dev.kvx.nixl} (agents, registrations, transfers, notifications),
 * {@link dev.kvx.memory} (native host buffers), {@link dev.kvx.cuda} (device discovery and device
 * memory). {@code dev.kvx.internal} and the generated {@code dev.kvx.internal.gen} packages are not API.
 */
package dev.kvx;
