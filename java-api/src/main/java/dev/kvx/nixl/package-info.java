/**
 * A safe Java API over NIXL's C API: {@link dev.kvx.nixl.NixlAgent} (create, backends, memory
 * registration, metadata exchange, notifications), {@link dev.kvx.nixl.Transfer} (post, poll, bounded
 * wait, release) and the status mapping ({@link dev.kvx.nixl.NixlStatus},
 * {@link dev.kvx.nixl.NixlException}). Every native object has one owner and one release path; using
 * a released object throws {@link dev.kvx.AlreadyClosedException}.
 */
package dev.kvx.nixl;
