/**
 * kvx: moves KV-cache blocks between the prefill (context) and decode (generation) workers of a
 * disaggregated LLM server, over NIXL (UCX) and the CUDA runtime, through the FFM API.
 *
 * <p>Exported: {@code dev.kvx} (exceptions), {@code dev.kvx.nixl} (agents, memory registration,
 * transfers, notifications), {@code dev.kvx.cuda} (devices, device and pinned memory),
 * {@code dev.kvx.memory} (native buffers), {@code dev.kvx.kv} (the KV block pool) and
 * {@code dev.kvx.transceiver} (the cache transceiver). The wire format, the engine and the native
 * bindings are internal. Native access is needed by this module and the bindings:
 * {@code --enable-native-access=dev.kvx,dev.kvx.bindings}.
 */
module dev.kvx {
    requires dev.kvx.bindings;
    requires HdrHistogram;
    requires com.fasterxml.jackson.core;
    requires java.net.http;
    requires jdk.jfr;
    requires java.management;

    exports dev.kvx;
    exports dev.kvx.cuda;
    exports dev.kvx.kv;
    exports dev.kvx.memory;
    exports dev.kvx.nixl;
    exports dev.kvx.transceiver;
}
