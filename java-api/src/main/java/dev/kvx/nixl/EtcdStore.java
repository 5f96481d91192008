package dev.kvx.nixl;

import dev.kvx.internal.Libc;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Chooses etcd as NIXL's central metadata store for the agents this process creates from now on,
 * and names the keys NIXL uses there.
 *
 * <p>NIXL (1.5.1) reads {@code NIXL_ETCD_ENDPOINTS} and {@code NIXL_ETCD_NAMESPACE} from the process
 * environment with {@code getenv} each time an agent is created, so {@link #use} sets them through
 * libc {@code setenv}: starting the JVM with them set works as well. An agent created while they are
 * set gets an etcd client and a metadata thread (its locking is upgraded from NONE to STRICT); its
 * {@link NixlAgent#publishMetadata()}, {@link NixlAgent#fetchRemoteMetadata(String)} and
 * {@link NixlAgent#withdrawMetadata()} then go to etcd. Agents created before, or after
 * {@link #clear()}, are not affected. {@code setenv} is not safe against other threads reading the
 * environment at the same moment: call these methods before other threads create agents.
 *
 * <p>What NIXL's etcd client (etcd-cpp-apiv3 over gRPC, the etcd v3 API; etcd 3.4 or newer) can and
 * cannot do: endpoints are {@code host:port} or {@code http://host:port}, several separated by
 * commas; the scheme is stripped and the channel is always <b>plaintext and unauthenticated</b> (no
 * TLS, no etcd user/password), so etcd must listen only on a private network and must not enable
 * etcd authentication for the prefix NIXL uses. The metadata it stores includes the UCX remote keys of
 * every registered buffer: whoever can read the prefix can read and write that memory.
 */
public final class EtcdStore {
    /** The environment variable NIXL reads for the etcd endpoints. */
    public static final String ENDPOINTS_ENV = "NIXL_ETCD_ENDPOINTS";
    /** The environment variable NIXL reads for the key prefix. */
    public static final String NAMESPACE_ENV = "NIXL_ETCD_NAMESPACE";
    /** NIXL's prefix when {@link #NAMESPACE_ENV} is unset (keys then have a double slash after it). */
    public static final String DEFAULT_NAMESPACE = "/nixl/agents/";
    /** The label NIXL stores an agent's full metadata under. */
    public static final String METADATA_LABEL = "metadata";
    private static final Pattern ENDPOINT = Pattern.compile("(http://)?[A-Za-z0-9._\\-]+:[0-9]{1,5}|(http://)?\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5}");

    private EtcdStore() {}

    /**
     * Makes agents created from now on in this process use etcd.
     *
     * @param endpoints {@code host:port} or {@code http://host:port}, comma-separated for several
     * @param namespace the key prefix (e.g. {@code /kvx/run-42}), or null for NIXL's {@link #DEFAULT_NAMESPACE}
     * @throws IllegalArgumentException for an https endpoint (NIXL's client has no TLS) or a malformed one
     */
    public static void use(String endpoints, String namespace) {
        String eps = validateEndpoints(endpoints);
        String ns = namespace == null ? null : validateNamespace(namespace);
        Libc.setenv(ENDPOINTS_ENV, eps);
        if (ns == null) {
            Libc.unsetenv(NAMESPACE_ENV);
        } else {
            Libc.setenv(NAMESPACE_ENV, ns);
        }
    }

    /** Agents created from now on in this process use no central store (peer-to-peer exchange only). */
    public static void clear() {
        Libc.unsetenv(ENDPOINTS_ENV);
        Libc.unsetenv(NAMESPACE_ENV);
    }

    /** The endpoints new agents would use, as the native environment has them now. */
    public static Optional<String> endpoints() {
        return Optional.ofNullable(Libc.getenv(ENDPOINTS_ENV)).filter(s -> !s.isEmpty());
    }

    /** The key prefix new agents would use. */
    public static String namespace() {
        String ns = Libc.getenv(NAMESPACE_ENV);
        return ns == null || ns.isEmpty() ? DEFAULT_NAMESPACE : ns;
    }

    /**
     * The etcd key under which NIXL stores {@code agent}'s metadata: {@code <namespace>/<agent>/metadata}.
     * NIXL also writes an empty key {@code <namespace>/<agent>/} on the first publish; withdrawing
     * deletes both (every key under {@link #agentPrefix}).
     */
    public static String metadataKey(String namespace, String agent) {
        return agentPrefix(namespace, agent) + METADATA_LABEL;
    }

    /** The prefix of every key NIXL writes for {@code agent}: {@code <namespace>/<agent>/}. */
    public static String agentPrefix(String namespace, String agent) {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(agent, "agent");
        return namespace + "/" + agent + "/";
    }

    static String validateEndpoints(String endpoints) {
        Objects.requireNonNull(endpoints, "endpoints");
        if (endpoints.isBlank()) {
            throw new IllegalArgumentException("etcd endpoints are empty; give host:port (e.g. 10.231.0.1:2379)");
        }
        for (String ep : endpoints.split(",")) {
            String e = ep.trim();
            if (e.startsWith("https://")) {
                throw new IllegalArgumentException("etcd endpoint '" + e + "': NIXL's etcd client has no TLS (it "
                        + "strips the scheme and speaks plaintext gRPC); run etcd on a private network with http://");
            }
            if (!ENDPOINT.matcher(e).matches()) {
                throw new IllegalArgumentException("etcd endpoint '" + e + "' is not host:port or http://host:port");
            }
        }
        return endpoints.replace(" ", "");
    }

    static String validateNamespace(String namespace) {
        if (namespace.isBlank() || !namespace.startsWith("/")) {
            throw new IllegalArgumentException("etcd namespace '" + namespace + "' must start with '/' (e.g. /kvx/run-42)");
        }
        return namespace;
    }
}
