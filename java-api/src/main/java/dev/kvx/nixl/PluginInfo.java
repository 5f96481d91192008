package dev.kvx.nixl;

import dev.kvx.memory.MemoryKind;
import java.util.List;
import java.util.Map;

/**
 * What a NIXL backend plugin supports and which init parameters it takes (defaults), or, for a
 * created backend, the effective parameters.
 *
 * @param name plugin name, e.g. {@code UCX}
 * @param memoryKinds memory kinds kvx knows that the plugin supports
 * @param otherMemoryTypes NIXL memory types kvx does not model (BLOCK, OBJECT, FILE …), by number
 * @param parameters parameter names and values
 */
public record PluginInfo(String name, List<MemoryKind> memoryKinds, List<Integer> otherMemoryTypes,
                         Map<String, String> parameters) {
    /** Copies the collections. */
    public PluginInfo {
        memoryKinds = List.copyOf(memoryKinds);
        otherMemoryTypes = List.copyOf(otherMemoryTypes);
        parameters = Map.copyOf(parameters);
    }
}
