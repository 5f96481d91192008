/**
 * The KV-cache pool: a registered region cut into fixed-size blocks, with free, allocated and
 * quarantined blocks. {@link dev.kvx.kv.KvCacheLayout} gives a block's size from the model's shape.
 *
 * {@snippet class=dev.kvx.snippets.ApiSnippets region=pool}
 */
package dev.kvx.kv;
