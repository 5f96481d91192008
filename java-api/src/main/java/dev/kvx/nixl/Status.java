package dev.kvx.nixl;

import java.util.function.Supplier;

/** The one mapper from NIXL status codes to kvx results: every native call's code goes through here. */
final class Status {
    private Status() {}

    /** Returns SUCCESS or IN_PROGRESS as a value; throws {@link NixlException} for an error. */
    static NixlStatus check(int raw, String call, Supplier<String> detail) {
        if (raw == 0) {
            return NixlStatus.SUCCESS;
        }
        if (raw == 1) {
            return NixlStatus.IN_PROGRESS;
        }
        throw new NixlException(call, raw, detail == null ? null : detail.get());
    }

    /**
     * The polling form: the detail comes from the transfer only when the call failed, so that a
     * status poll allocates nothing (a {@code this::describe} supplier would be created per call).
     */
    static NixlStatus check(int raw, String call, Transfer subject) {
        if (raw == 0) {
            return NixlStatus.SUCCESS;
        }
        if (raw == 1) {
            return NixlStatus.IN_PROGRESS;
        }
        throw new NixlException(call, raw, subject.describe());
    }

    /** For calls that have no "in progress": anything but SUCCESS is an error. */
    static void ok(int raw, String call, Supplier<String> detail) {
        if (raw != 0) {
            throw new NixlException(call, raw, detail == null ? null : detail.get());
        }
    }

    /** For calls that have no "in progress" and no detail worth computing. */
    static void ok(int raw, String call) {
        ok(raw, call, null);
    }
}
