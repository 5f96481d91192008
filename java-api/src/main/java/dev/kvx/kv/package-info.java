/** The KV-cache pool: a registered region cut into fixed-size blocks, with free, allocated and quarantined blocks. */
package dev.kvx.kv;
