/** Native memory that kvx registers with NIXL: host buffers, descriptors, memory kinds. */
package dev.kvx.memory;
