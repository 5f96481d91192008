/**
 * jextract's bindings of NIXL's C API, the CUDA runtime subset and kvx's request record: generated,
 * never edited, exported only to {@code dev.kvx}.
 */
module dev.kvx.bindings {
    exports dev.kvx.internal.gen.nixl to dev.kvx;
    exports dev.kvx.internal.gen.cudart to dev.kvx;
    exports dev.kvx.internal.gen.request to dev.kvx;
}
