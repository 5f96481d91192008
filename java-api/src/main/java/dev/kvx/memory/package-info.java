/**
 * Native memory that kvx registers with NIXL: host buffers, descriptors, memory kinds. A buffer has
 * one owner; closing it frees the memory, and a buffer that is still registered refuses to close.
 *
 * {@snippet class=dev.kvx.snippets.ApiSnippets region=host-buffer}
 */
package dev.kvx.memory;
