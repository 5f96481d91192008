/**
 * A safe Java API over NIXL's C API: {@link dev.kvx.nixl.NixlAgent} (create, backends, memory
 * registration, metadata exchange, notifications), {@link dev.kvx.nixl.Transfer} (post, poll, bounded
 * wait, release) and the status mapping ({@link dev.kvx.nixl.NixlStatus},
 * {@link dev.kvx.nixl.NixlException}). Every native object has one owner and one release path; using
 * a released object throws {@link dev.kvx.AlreadyClosedException}.
 *
 * <p>Two agents in one process, a WRITE with a completion notification (across processes, the
 * metadata bytes travel to the peer, e.g. over {@link dev.kvx.nixl.NixlAgent#sendLocalMetadata}):
 * {@snippet class=dev.kvx.snippets.ApiSnippets region=transfer}
 */
package dev.kvx.nixl;
