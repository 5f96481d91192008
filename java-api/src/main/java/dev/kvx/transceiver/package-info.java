/**
 * The cache transceiver: {@link dev.kvx.transceiver.CacheTransceiver} (one progress-engine thread
 * per side), {@link dev.kvx.transceiver.LlmRequest} handles backed by native records in their own
 * arenas, staging-slot leases, the wire protocol and the outcomes every request ends with.
 */
package dev.kvx.transceiver;
