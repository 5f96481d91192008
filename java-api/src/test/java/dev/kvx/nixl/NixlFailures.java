package dev.kvx.nixl;

/**
 * Makes {@link NixlException}s for tests outside this package (its constructor is package-private): the
 * fake agent port of the deterministic engine tests throws them where real NIXL would.
 */
public final class NixlFailures {
    private NixlFailures() {}

    /** The exception a failed NIXL call {@code call} with raw status {@code raw} throws. */
    public static NixlException of(String call, int raw, String detail) {
        return new NixlException(call, raw, detail);
    }
}
