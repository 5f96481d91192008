package dev.kvx.internal;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/**
 * The native-access check kvx doctor prints, on the class path (the tests run there with
 * {@code --enable-native-access=ALL-UNNAMED}). The module path's flag, both modules by name, is proven by
 * cli's ConsumerProjectIT, which runs a modular application without the flag and reads kvx's warning.
 */
class NativeAccessTest {
    @Test
    void onTheClassPathTheFlagIsAllUnnamedAndItIsOn() {
        assertFalse(NativeLibraries.class.getModule().isNamed(), "surefire runs the tests on the class path");
        assertEquals("--enable-native-access=ALL-UNNAMED", NativeLibraries.nativeAccessFlag());
        assertTrue(NativeLibraries.nativeAccessEnabled(), "surefire passes --enable-native-access=ALL-UNNAMED");
    }
}
