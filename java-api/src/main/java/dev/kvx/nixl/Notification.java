package dev.kvx.nixl;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A message another agent sent to this one, either attached to a transfer (delivered after its data)
 * or standalone. The bytes are copied out of NIXL's map before the map is cleared.
 *
 * @param sender the sending agent's name
 * @param message the message bytes (a defensive copy)
 */
public record Notification(String sender, byte[] message) {
    /** Copies the message. */
    public Notification {
        message = message.clone();
    }

    @Override
    public byte[] message() {
        return message.clone();
    }

    /** The message as UTF-8 text, for logs and tests. */
    public String text() {
        return new String(message, StandardCharsets.UTF_8);
    }

    /** Whether the message equals {@code bytes}. */
    public boolean matches(byte[] bytes) {
        return Arrays.equals(message, bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Notification n && n.sender.equals(sender) && Arrays.equals(n.message, message);
    }

    @Override
    public int hashCode() {
        return sender.hashCode() * 31 + Arrays.hashCode(message);
    }

    @Override
    public String toString() {
        return "Notification[from " + sender + ", " + message.length + " B]";
    }
}
