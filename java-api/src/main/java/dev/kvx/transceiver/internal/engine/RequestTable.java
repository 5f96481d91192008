package dev.kvx.transceiver.internal.engine;

import java.util.HashMap;
import java.util.Map;

/**
 * The live requests, keyed by (peer, request id, role): at most one live attempt per id, peer and role
 * (a transceiver may send and receive the same id with one peer). Also an
 * intrusive list in submission order, which a tick walks without allocating; finishing a request
 * unlinks only that request, so a walker that reads {@code next} first stays valid. Engine-confined.
 */
final class RequestTable {
    /** (peer name, request id): also the key of pending announcements and ended requests. */
    record Key(String peer, long id) {}

    private record TaskKey(String peer, long id, RequestTask.Role role) {}

    private final Map<TaskKey, RequestTask> byKey = new HashMap<>();
    private RequestTask head;
    private RequestTask tail;
    private int size;

    RequestTask get(String peer, long id, RequestTask.Role role) {
        return byKey.get(new TaskKey(peer, id, role));
    }

    boolean contains(String peer, long id, RequestTask.Role role) {
        return byKey.containsKey(new TaskKey(peer, id, role));
    }

    void add(RequestTask t) {
        byKey.put(new TaskKey(t.peerName, t.id, t.role), t);
        t.prev = tail;
        if (tail == null) {
            head = t;
        } else {
            tail.next = t;
        }
        tail = t;
        size++;
    }

    /** Unlinks the task if it is the live one for its key; false if it was not (never added, or removed). */
    boolean remove(RequestTask t) {
        if (!byKey.remove(new TaskKey(t.peerName, t.id, t.role), t)) {
            return false;
        }
        if (t.prev == null) {
            head = t.next;
        } else {
            t.prev.next = t.next;
        }
        if (t.next == null) {
            tail = t.prev;
        } else {
            t.next.prev = t.prev;
        }
        t.prev = null;
        t.next = null;
        size--;
        return true;
    }

    RequestTask head() {
        return head;
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }
}
