package dev.kvx.nixl;

import java.util.concurrent.locks.ReentrantLock;

/**
 * How a {@link NixlAgent} keeps NIXL from seeing two threads on one agent (NIXL's own locking is off).
 * A shared agent takes a lock around every native call; a <b>confined</b> agent belongs to one thread
 * at a time and checks that the caller is that thread, which costs a field read instead of a lock. The
 * transceiver's progress engine owns a confined agent: it is the only thread that ever calls it.
 */
abstract sealed class AgentGuard permits AgentGuard.Locking, AgentGuard.Confined {
    abstract void lock();

    abstract void unlock();

    /** Whether the calling thread may touch the agent without taking anything (confined owner). */
    abstract boolean isConfined();

    static final class Locking extends AgentGuard {
        private final ReentrantLock lock = new ReentrantLock();

        @Override
        void lock() {
            lock.lock();
        }

        @Override
        void unlock() {
            lock.unlock();
        }

        @Override
        boolean isConfined() {
            return false;
        }
    }

    static final class Confined extends AgentGuard {
        private final String agentName;
        private volatile Thread owner;

        Confined(String agentName, Thread owner) {
            this.agentName = agentName;
            this.owner = owner;
        }

        void confineTo(Thread t) {
            owner = t;
        }

        Thread owner() {
            return owner;
        }

        @Override
        void lock() {
            Thread t = Thread.currentThread();
            if (t != owner) {
                throw new IllegalStateException("NIXL agent '" + agentName + "' is confined to thread "
                        + (owner == null ? "(none)" : "'" + owner.getName() + "'") + "; called from '" + t.getName()
                        + "' (a confined agent is used by its owner only; use NixlAgent.create for a shared one)");
            }
        }

        @Override
        void unlock() {
        }

        @Override
        boolean isConfined() {
            return true;
        }
    }
}
