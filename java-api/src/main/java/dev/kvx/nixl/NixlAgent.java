package dev.kvx.nixl;

import static dev.kvx.internal.gen.nixl.NixlCapi.*;

import dev.kvx.AlreadyClosedException;
import dev.kvx.internal.Libc;
import dev.kvx.internal.NativeLibraries;
import dev.kvx.internal.gen.nixl.nixl_capi_agent_config_s;
import dev.kvx.memory.MemoryDescriptor;
import dev.kvx.memory.MemoryKind;
import dev.kvx.memory.NativeBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

/**
 * A NIXL agent: the unit that owns backends, registered memory, peers' metadata, transfer requests
 * and incoming notifications. A shared agent ({@link #create}) is thread-safe: every native call runs
 * under the agent's lock (NIXL's own locking is off by default), so NIXL never sees two threads on one
 * agent. A confined agent ({@link #createConfined}) belongs to one thread and takes no lock.
 *
 * <p>Ownership: the agent owns everything created through it. {@link #close()} releases, in NIXL's
 * required order, open transfers, registrations, the notification map, backend wrappers and the agent
 * itself; it is idempotent and thread-safe, and any later use of the agent or of what it owned throws
 * {@link AlreadyClosedException}.
 *
 * <p>Two agents in one process, a WRITE with a completion notification (across processes, the metadata
 * bytes travel to the peer instead of {@link #loadRemoteMetadata} being called with them here):
 * {@snippet class=dev.kvx.snippets.ApiSnippets region=transfer}
 */
public final class NixlAgent implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(NixlAgent.class.getName());
    private final String name;
    private final AgentConfig config;
    /**
     * Whether the polling calls use {@link CriticalCalls} (default). {@code -Dkvx.nixl.criticalCalls=false}
     * binds them like every other call; the benchmark suite runs both ways to show the difference.
     */
    static final boolean CRITICAL_CALLS = Boolean.parseBoolean(System.getProperty("kvx.nixl.criticalCalls", "true"));
    private final AgentGuard lock;
    private final Arena arena = Arena.ofShared(); // lives exactly as long as the native agent
    private final MemorySegment nameC;
    private final MemorySegment scratchPtr; // out-parameters of calls made under the lock
    private final MemorySegment scratchPtr2;
    private final MemorySegment scratchSize;
    private final MemorySegment scratchBool;
    private MemorySegment handle;
    private MemorySegment notifMap = MemorySegment.NULL;
    private MemorySegment notifOpt = MemorySegment.NULL; // reused by makeTransfer, destroyed at close
    private MemorySegment makeScratch; // indices and notification of makeTransfer, grown on demand
    private final Map<String, Backend> backends = new LinkedHashMap<>();
    private final Set<Registration> registrations = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Transfer> transfers = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<PreparedDescriptors> prepared = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<String> remotes = new LinkedHashSet<>();
    private long transfersCreated;
    private long transfersReleased;
    private long releaseRefusals;

    private NixlAgent(String name, AgentConfig config, AgentGuard guard) {
        this.name = name;
        this.config = config;
        this.lock = guard;
        this.nameC = arena.allocateFrom(name);
        this.scratchPtr = arena.allocate(C_POINTER);
        this.scratchPtr2 = arena.allocate(C_POINTER);
        this.scratchSize = arena.allocate(ValueLayout.JAVA_LONG);
        this.scratchBool = arena.allocate(ValueLayout.JAVA_BOOLEAN);
        this.makeScratch = arena.allocate(1024, 8);
    }

    /**
     * Creates an agent. Loads NIXL on first use ({@link dev.kvx.NativeLibraryException} if it
     * is missing, with the command that installs it).
     *
     * @param name unique among the agents that will talk to each other
     * @param config see {@link AgentConfig#defaults()}
     */
    public static NixlAgent create(String name, AgentConfig config) {
        return create(name, config, new AgentGuard.Locking());
    }

    /**
     * Creates an agent <b>confined</b> to the calling thread: only that thread (or the one it is later
     * handed to with {@link #confineTo(Thread)}) may call it, and no call takes a lock. A call from
     * another thread throws {@link IllegalStateException}. The transceiver's progress engine owns its
     * agent this way.
     */
    public static NixlAgent createConfined(String name, AgentConfig config) {
        return create(name, config, new AgentGuard.Confined(name, Thread.currentThread()));
    }

    private static NixlAgent create(String name, AgentConfig config, AgentGuard guard) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(config, "config");
        if (name.isBlank()) {
            throw new IllegalArgumentException("agent name must not be blank");
        }
        NativeLibraries.loadNixl();
        NixlAgent agent = new NixlAgent(name, config, guard);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment cfg = nixl_capi_agent_config_s.allocate(tmp);
            nixl_capi_agent_config_s.enable_prog_thread(cfg, config.progressThread());
            nixl_capi_agent_config_s.enable_listen_thread(cfg, config.listenThread());
            nixl_capi_agent_config_s.listen_port(cfg, config.listenPort());
            nixl_capi_agent_config_s.thread_sync(cfg, config.threadSync().code());
            nixl_capi_agent_config_s.num_workers(cfg, 1);
            nixl_capi_agent_config_s.pthr_delay_us(cfg, config.progressThreadDelay().toNanos() / 1000);
            nixl_capi_agent_config_s.lthr_delay_us(cfg, config.listenThreadDelay().toNanos() / 1000);
            nixl_capi_agent_config_s.capture_telemetry(cfg, config.captureTelemetry());
            int rc = nixl_capi_create_configured_agent(agent.nameC, cfg, agent.scratchPtr);
            Status.ok(rc, "nixl_capi_create_configured_agent", () -> "agent '" + name + "', " + config);
            agent.handle = agent.scratchPtr.get(C_POINTER, 0);
            Status.ok(nixl_capi_create_notif_map(agent.scratchPtr), "nixl_capi_create_notif_map");
            agent.notifMap = agent.scratchPtr.get(C_POINTER, 0);
        } catch (RuntimeException e) {
            agent.close();
            throw e;
        }
        LOG.log(System.Logger.Level.DEBUG, "NIXL agent {0} created ({1})", name, config);
        return agent;
    }

    /**
     * Creates an agent with {@link AgentConfig#defaults()} and a UCX backend with
     * {@link #defaultUcxParams()}.
     */
    public static NixlAgent createWithUcx(String name) {
        return createWithUcx(name, defaultUcxParams());
    }

    /**
     * The UCX backend parameters kvx uses unless told otherwise: NIXL's defaults, overridden by the
     * system property {@code kvx.ucx.params} or the environment variable {@code KVX_UCX_PARAMS}
     * ({@code key=value,key=value}, e.g. {@code ucx_error_handling_mode=none}).
     */
    public static Map<String, String> defaultUcxParams() {
        String spec = System.getProperty("kvx.ucx.params", System.getenv().getOrDefault("KVX_UCX_PARAMS", ""));
        Map<String, String> out = new LinkedHashMap<>();
        for (String kv : spec.split(",")) {
            if (kv.isBlank()) {
                continue;
            }
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("kvx.ucx.params entry '" + kv + "' is not key=value");
            }
            out.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
        return out;
    }

    /** Creates an agent with {@link AgentConfig#defaults()} and a UCX backend with the given parameters. */
    public static NixlAgent createWithUcx(String name, Map<String, String> ucxParams) {
        NixlAgent agent = create(name, AgentConfig.defaults());
        try {
            agent.createBackend("UCX", ucxParams);
            return agent;
        } catch (RuntimeException e) {
            agent.close();
            throw e;
        }
    }

    /**
     * Links the native calls of the transfer hot path now (FFM creates a downcall handle the first time a
     * function is called, which costs milliseconds each in a fresh JVM), so that a new process's first
     * requests do not pay for it. Idempotent; safe from any thread.
     */
    public static void linkHotCalls() {
        NativeLibraries.loadNixl();
        java.util.List.of(nixl_capi_make_xfer_req$handle(), nixl_capi_post_xfer_req$handle(), nixl_capi_get_xfer_status$handle(),
                nixl_capi_release_xfer_req$handle(), nixl_capi_destroy_xfer_req$handle(), nixl_capi_gen_notif$handle(),
                nixl_capi_get_notifs$handle(), nixl_capi_notif_map_size$handle(), nixl_capi_notif_map_get_agent_at$handle(),
                nixl_capi_notif_map_get_notifs_size$handle(), nixl_capi_notif_map_get_notif$handle(), nixl_capi_notif_map_clear$handle(),
                nixl_capi_opt_args_set_notif_msg$handle(), nixl_capi_load_remote_md$handle(), nixl_capi_check_remote_md$handle(),
                nixl_capi_invalidate_remote_md$handle(), nixl_capi_prep_xfer_dlist$handle());
        if (CRITICAL_CALLS) {
            CriticalCalls.link();
        }
    }

    /** This agent's name. */
    public String name() {
        return name;
    }

    /** The configuration it was created with. */
    public AgentConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- plugins and backends

    /** Plugin names NIXL found in its plugin folder (a listed plugin may still fail to load). */
    public List<String> availablePlugins() {
        lock.lock();
        try {
            MemorySegment h = live();
            Status.ok(nixl_capi_get_available_plugins(h, scratchPtr), "nixl_capi_get_available_plugins");
            MemorySegment list = scratchPtr.get(C_POINTER, 0);
            try {
                Status.ok(nixl_capi_string_list_size(list, scratchSize), "nixl_capi_string_list_size");
                long n = scratchSize.get(ValueLayout.JAVA_LONG, 0);
                List<String> out = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    Status.ok(nixl_capi_string_list_get(list, i, scratchPtr2), "nixl_capi_string_list_get");
                    out.add(NativeLibraries.string(scratchPtr2.get(C_POINTER, 0)));
                }
                return List.copyOf(out);
            } finally {
                nixl_capi_destroy_string_list(list);
            }
        } finally {
            lock.unlock();
        }
    }

    /** A plugin's supported memory kinds and default parameters (loads the plugin briefly). */
    public PluginInfo pluginInfo(String plugin) {
        Objects.requireNonNull(plugin, "plugin");
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            int rc = nixl_capi_get_plugin_params(h, tmp.allocateFrom(plugin), scratchPtr, scratchPtr2);
            Status.ok(rc, "nixl_capi_get_plugin_params", () -> "plugin '" + plugin + "' (known: see availablePlugins())");
            return readInfo(plugin, scratchPtr.get(C_POINTER, 0), scratchPtr2.get(C_POINTER, 0));
        } finally {
            lock.unlock();
        }
    }

    PluginInfo backendInfo(Backend backend) {
        lock.lock();
        try {
            MemorySegment h = live();
            int rc = nixl_capi_get_backend_params(h, backend.handle, scratchPtr, scratchPtr2);
            Status.ok(rc, "nixl_capi_get_backend_params", () -> backend.toString());
            return readInfo(backend.name(), scratchPtr.get(C_POINTER, 0), scratchPtr2.get(C_POINTER, 0));
        } finally {
            lock.unlock();
        }
    }

    private PluginInfo readInfo(String plugin, MemorySegment mems, MemorySegment params) {
        try {
            List<MemoryKind> kinds = new ArrayList<>();
            List<Integer> others = new ArrayList<>();
            Status.ok(nixl_capi_mem_list_size(mems, scratchSize), "nixl_capi_mem_list_size");
            long n = scratchSize.get(ValueLayout.JAVA_LONG, 0);
            for (long i = 0; i < n; i++) {
                Status.ok(nixl_capi_mem_list_get(mems, i, scratchSize), "nixl_capi_mem_list_get");
                int t = scratchSize.get(ValueLayout.JAVA_INT, 0);
                if (t == MemoryKind.DRAM.nixlCode()) {
                    kinds.add(MemoryKind.DRAM);
                } else if (t == MemoryKind.VRAM.nixlCode()) {
                    kinds.add(MemoryKind.VRAM);
                } else {
                    others.add(t);
                }
            }
            return new PluginInfo(plugin, kinds, others, readParams(params));
        } finally {
            nixl_capi_destroy_mem_list(mems);
            nixl_capi_destroy_params(params);
        }
    }

    private Map<String, String> readParams(MemorySegment params) {
        Map<String, String> out = new LinkedHashMap<>();
        Status.ok(nixl_capi_params_create_iterator(params, scratchPtr), "nixl_capi_params_create_iterator");
        MemorySegment it = scratchPtr.get(C_POINTER, 0);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment key = tmp.allocate(C_POINTER);
            MemorySegment value = tmp.allocate(C_POINTER);
            for (int guard = 0; guard < 10_000; guard++) {
                key.set(C_POINTER, 0, MemorySegment.NULL);
                value.set(C_POINTER, 0, MemorySegment.NULL);
                Status.ok(nixl_capi_params_iterator_next(it, key, value, scratchBool), "nixl_capi_params_iterator_next");
                MemorySegment k = key.get(C_POINTER, 0);
                if (!k.equals(MemorySegment.NULL)) {
                    out.put(NativeLibraries.string(k), NativeLibraries.string(value.get(C_POINTER, 0)));
                }
                if (!scratchBool.get(ValueLayout.JAVA_BOOLEAN, 0)) {
                    break;
                }
            }
        } finally {
            nixl_capi_params_destroy_iterator(it);
        }
        return out;
    }

    /**
     * Creates a backend inside this agent (one per plugin name). For UCX this starts UCX and, if
     * configured, NIXL's progress thread (tens to hundreds of milliseconds).
     *
     * @param plugin plugin name, case-sensitive, e.g. {@code UCX}
     * @param params init parameters; empty for the plugin's defaults
     */
    public Backend createBackend(String plugin, Map<String, String> params) {
        Objects.requireNonNull(plugin, "plugin");
        Objects.requireNonNull(params, "params");
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            if (backends.containsKey(plugin)) {
                throw new IllegalStateException("agent '" + name + "' already has a " + plugin + " backend");
            }
            Status.ok(nixl_capi_create_params(scratchPtr), "nixl_capi_create_params");
            MemorySegment p = scratchPtr.get(C_POINTER, 0);
            try {
                for (Map.Entry<String, String> e : params.entrySet()) {
                    Status.ok(nixl_capi_params_add(p, tmp.allocateFrom(e.getKey()), tmp.allocateFrom(e.getValue())),
                            "nixl_capi_params_add", e::getKey);
                }
                int rc = nixl_capi_create_backend(h, tmp.allocateFrom(plugin), p, scratchPtr);
                Status.ok(rc, "nixl_capi_create_backend", () -> "plugin '" + plugin + "' with " + params
                        + " on agent '" + name + "'");
                Backend b = new Backend(this, plugin, scratchPtr.get(C_POINTER, 0));
                backends.put(plugin, b);
                return b;
            } finally {
                nixl_capi_destroy_params(p);
            }
        } finally {
            lock.unlock();
        }
    }

    /** The backends created so far. */
    public List<Backend> backends() {
        lock.lock();
        try {
            return List.copyOf(backends.values());
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- memory

    /**
     * Registers buffers (all of one memory kind) with every backend that supports that kind. The
     * buffers are pinned: they refuse to close until the registration closes.
     */
    public Registration register(NativeBuffer... buffers) {
        if (buffers.length == 0) {
            throw new IllegalArgumentException("register needs at least one buffer");
        }
        MemoryKind kind = buffers[0].kind();
        List<MemoryDescriptor> descs = new ArrayList<>();
        for (NativeBuffer b : buffers) {
            if (b.kind() != kind) {
                throw new IllegalArgumentException("one registration holds one memory kind; got " + kind + " and " + b.kind());
            }
            descs.add(b.descriptor());
        }
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            MemorySegment dlist = regList(tmp, kind, descs);
            try {
                Status.ok(nixl_capi_register_mem(h, dlist, MemorySegment.NULL), "nixl_capi_register_mem",
                        () -> descs.size() + " " + kind + " range(s) on agent '" + name + "' (backends: " + backends.keySet() + ")");
            } finally {
                nixl_capi_destroy_reg_dlist(dlist);
            }
            List<NativeBuffer> pinned = new ArrayList<>();
            try {
                for (NativeBuffer b : buffers) {
                    b.pin();
                    pinned.add(b);
                }
            } catch (RuntimeException e) { // a buffer closed meanwhile: undo everything
                pinned.forEach(NativeBuffer::unpin);
                deregisterNative(h, kind, descs);
                throw e;
            }
            Registration r = new Registration(this, kind, List.of(buffers), descs);
            registrations.add(r);
            return r;
        } finally {
            lock.unlock();
        }
    }

    void deregister(Registration r) {
        lock.lock();
        try {
            if (r.closedFlag() || handle == null) {
                return;
            }
            r.markClosed();
            registrations.remove(r);
            try {
                deregisterNative(handle, r.kind(), r.descriptors());
            } finally {
                r.buffers().forEach(NativeBuffer::unpin);
            }
        } finally {
            lock.unlock();
        }
    }

    boolean isRegistrationClosed(Registration r) {
        lock.lock();
        try {
            return r.closedFlag() || handle == null;
        } finally {
            lock.unlock();
        }
    }

    private void deregisterNative(MemorySegment h, MemoryKind kind, List<MemoryDescriptor> descs) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment dlist = regList(tmp, kind, descs);
            try {
                Status.ok(nixl_capi_deregister_mem(h, dlist, MemorySegment.NULL), "nixl_capi_deregister_mem",
                        () -> descs.size() + " " + kind + " range(s) on agent '" + name + "'");
            } finally {
                nixl_capi_destroy_reg_dlist(dlist);
            }
        }
    }

    private MemorySegment regList(Arena tmp, MemoryKind kind, List<MemoryDescriptor> descs) {
        MemorySegment out = tmp.allocate(C_POINTER);
        Status.ok(nixl_capi_create_reg_dlist(kind.nixlCode(), out), "nixl_capi_create_reg_dlist");
        MemorySegment dlist = out.get(C_POINTER, 0);
        for (MemoryDescriptor d : descs) {
            int rc = nixl_capi_reg_dlist_add_desc(dlist, d.address(), d.length(), d.deviceId(), MemorySegment.NULL, 0);
            if (rc != 0) {
                nixl_capi_destroy_reg_dlist(dlist);
                Status.ok(rc, "nixl_capi_reg_dlist_add_desc", d::toString);
            }
        }
        return dlist;
    }

    // ---------------------------------------------------------------- metadata

    /** This agent's metadata blob (name, connection info, registrations now) for a peer to load. */
    public byte[] localMetadata() {
        lock.lock();
        try {
            MemorySegment h = live();
            Status.ok(nixl_capi_get_local_md(h, scratchPtr, scratchSize), "nixl_capi_get_local_md",
                    () -> "agent '" + name + "' (needs a network-capable backend such as UCX)");
            MemorySegment data = scratchPtr.get(C_POINTER, 0);
            long len = scratchSize.get(ValueLayout.JAVA_LONG, 0);
            try {
                return data.reinterpret(len).toArray(ValueLayout.JAVA_BYTE);
            } finally {
                Libc.free(data);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Loads a peer's metadata blob, which connects to it.
     *
     * @return the peer agent's name
     */
    public String loadRemoteMetadata(byte[] metadata) {
        Objects.requireNonNull(metadata, "metadata");
        if (metadata.length == 0) {
            throw new IllegalArgumentException("remote metadata is empty");
        }
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            MemorySegment blob = tmp.allocateFrom(ValueLayout.JAVA_BYTE, metadata);
            Status.ok(nixl_capi_load_remote_md(h, blob, metadata.length, scratchPtr), "nixl_capi_load_remote_md",
                    () -> metadata.length + " B blob on agent '" + name + "' (own metadata, a changed peer or a corrupt blob?)");
            MemorySegment remote = scratchPtr.get(C_POINTER, 0);
            try {
                String remoteName = NativeLibraries.string(remote);
                remotes.add(remoteName);
                return remoteName;
            } finally {
                Libc.free(remote);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Forgets a peer and disconnects from it; its transfers fail from now on. */
    public void invalidateRemote(String remoteAgent) {
        Objects.requireNonNull(remoteAgent, "remoteAgent");
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            Status.ok(nixl_capi_invalidate_remote_md(h, tmp.allocateFrom(remoteAgent)), "nixl_capi_invalidate_remote_md",
                    () -> "peer '" + remoteAgent + "' on agent '" + name + "'");
            remotes.remove(remoteAgent);
        } finally {
            lock.unlock();
        }
    }

    /**
     * NIXL's socket exchange: sends this agent's metadata to the listener of a peer agent at
     * {@code ip:port} (the peer must run with {@link AgentConfig#withListener(int)}). NIXL queues the
     * send on its listener thread and reports failures only in its log; confirm with the peer.
     */
    public void sendLocalMetadata(String ip, int port) {
        withSocketArgs(ip, port, (h, opt) -> Status.ok(nixl_capi_send_local_md(h, opt), "nixl_capi_send_local_md",
                () -> "to " + ip + ":" + port + " from agent '" + name + "'"));
    }

    /**
     * NIXL's socket exchange: asks the listener at {@code ip:port} for its agent's metadata; this
     * agent's own listener loads the reply asynchronously, so this agent needs a listener too. Use
     * {@link #awaitRemote(String, Duration)} to wait for it.
     */
    public void fetchRemoteMetadata(String ip, int port) {
        withSocketArgs(ip, port, (h, opt) -> {
            try (Arena tmp = Arena.ofConfined()) {
                Status.ok(nixl_capi_fetch_remote_md(h, tmp.allocateFrom(""), opt), "nixl_capi_fetch_remote_md",
                        () -> "from " + ip + ":" + port + " by agent '" + name + "'");
            }
        });
    }

    /**
     * Polls until this agent holds {@code remoteAgent}'s metadata or the timeout passes.
     *
     * @return whether it arrived
     */
    public boolean awaitRemote(String remoteAgent, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!hasRemote(remoteAgent)) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            Thread.sleep(5);
        }
        lock.lock();
        try {
            remotes.add(remoteAgent);
        } finally {
            lock.unlock();
        }
        return true;
    }

    private interface SocketCall {
        void run(MemorySegment agentHandle, MemorySegment optArgs);
    }

    private void withSocketArgs(String ip, int port, SocketCall call) {
        Objects.requireNonNull(ip, "ip");
        if (port <= 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 1..65535, got " + port);
        }
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            Status.ok(nixl_capi_create_opt_args(scratchPtr), "nixl_capi_create_opt_args");
            MemorySegment opt = scratchPtr.get(C_POINTER, 0);
            try {
                Status.ok(nixl_capi_opt_args_set_ip_addr(opt, tmp.allocateFrom(ip)), "nixl_capi_opt_args_set_ip_addr", () -> ip);
                Status.ok(nixl_capi_opt_args_set_port(opt, (short) port), "nixl_capi_opt_args_set_port");
                call.run(h, opt);
            } finally {
                nixl_capi_destroy_opt_args(opt);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether this agent holds metadata of {@code remoteAgent}. */
    public boolean hasRemote(String remoteAgent) {
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            return nixl_capi_check_remote_md(h, tmp.allocateFrom(remoteAgent), MemorySegment.NULL) == 0;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- central metadata store (etcd)

    /**
     * Publishes this agent's metadata (connection info and registrations now) to NIXL's central
     * store: the etcd server named by {@code NIXL_ETCD_ENDPOINTS} when this agent was created (see
     * {@link EtcdStore}), under the key {@code <NIXL_ETCD_NAMESPACE>/<name>/metadata}. Publish again
     * after registering more memory; a later publish replaces the earlier one.
     *
     * <p>NIXL queues the write on the agent's metadata thread and returns at once; a failed write
     * (etcd down, or still refused for up to gRPC's reconnect backoff after etcd came back) is
     * reported only in NIXL's log and not retried. Whoever needs certainty reads the key back
     * ({@link EtcdStore#metadataKey}) and publishes again.
     *
     * @throws NixlException INVALID_PARAM when the agent was created without a central store
     */
    public void publishMetadata() {
        centralStoreCall("nixl_capi_send_local_md", "publish", h -> nixl_capi_send_local_md(h, MemorySegment.NULL));
    }

    /**
     * Asks NIXL to fetch {@code remoteAgent}'s metadata from the central store and load it, which
     * connects to that peer. Asynchronous: NIXL's metadata thread reads the key, or, while it is
     * missing, watches it for NIXL's etcd watch timeout (5 s; that thread does nothing else
     * meanwhile); then it loads the blob and watches the peer's keys, so that the peer's
     * {@link #withdrawMetadata()} invalidates it here too. Wait with {@link #awaitRemote(String, Duration)}.
     *
     * <p>A peer that restarted under the same name publishes other connection info, which NIXL
     * refuses to load over the old one: {@link #invalidateRemote(String)} it first (unless its
     * withdrawal already did), then fetch again. A load that fails is only logged by NIXL.
     *
     * <p><b>Only fetch while etcd is reachable.</b> In NIXL 1.5.1 a fetch that runs while etcd is
     * down fails to create its watch and then waits for that watch forever: the agent's metadata
     * thread never runs another task and {@link #close()} never returns (seen with etcd stopped;
     * it stays so after etcd is back). NIXL's watch on a fetched peer also stops silently when etcd
     * restarts, so a later withdrawal of that peer is not seen here.
     *
     * @throws NixlException INVALID_PARAM when the agent was created without a central store
     */
    public void fetchRemoteMetadata(String remoteAgent) {
        Objects.requireNonNull(remoteAgent, "remoteAgent");
        if (remoteAgent.isBlank() || remoteAgent.equals(name)) {
            throw new IllegalArgumentException("fetch needs another agent's name, got '" + remoteAgent + "'");
        }
        centralStoreCall("nixl_capi_fetch_remote_md", "fetch '" + remoteAgent + "'", h -> {
            try (Arena tmp = Arena.ofConfined()) {
                return nixl_capi_fetch_remote_md(h, tmp.allocateFrom(remoteAgent), MemorySegment.NULL);
            }
        });
    }

    /**
     * Removes this agent's keys from the central store (asynchronously, on NIXL's metadata thread).
     * Peers that fetched this agent's metadata through the store see the deletion and drop it within
     * their metadata thread's poll delay. Closing the agent does <b>not</b> withdraw: call this first
     * (on close and on drain), or the keys stay until a new agent of the same name replaces them.
     * Withdrawing twice, or without having published, is harmless.
     *
     * @throws NixlException INVALID_PARAM when the agent was created without a central store
     */
    public void withdrawMetadata() {
        centralStoreCall("nixl_capi_invalidate_local_md", "withdraw", h -> nixl_capi_invalidate_local_md(h, MemorySegment.NULL));
    }

    private interface StoreCall {
        int run(MemorySegment agentHandle);
    }

    private void centralStoreCall(String function, String what, StoreCall call) {
        lock.lock();
        try {
            int rc = call.run(live());
            Status.ok(rc, function, () -> what + " by agent '" + name + "' through the central store"
                    + (rc == -1 ? " (none configured: was NIXL_ETCD_ENDPOINTS set when the agent was created? see EtcdStore)" : ""));
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- transfers

    /**
     * Prepares a transfer between local registered memory and a peer's registered memory.
     *
     * @param op READ (remote into local) or WRITE (local into remote)
     * @param localKind memory kind of the local descriptors
     * @param local local ranges, inside this agent's registrations
     * @param remoteKind memory kind of the remote descriptors
     * @param remote remote ranges, same count and per-index lengths as {@code local}
     * @param remoteAgent the peer's name (its metadata must be loaded), or this agent's own name
     * @param notification message delivered to the peer after the data, or null for none
     * @throws IllegalArgumentException for an empty list or mismatched lengths
     * @throws NixlException if NIXL refuses (unknown peer, unregistered memory, a range outside a registration …)
     */
    public Transfer createTransfer(TransferOp op, MemoryKind localKind, List<MemoryDescriptor> local,
                                   MemoryKind remoteKind, List<MemoryDescriptor> remote, String remoteAgent,
                                   byte[] notification) {
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(remoteAgent, "remoteAgent");
        if (local.isEmpty() || remote.isEmpty()) {
            throw new IllegalArgumentException("a transfer needs at least one descriptor on each side (local "
                    + local.size() + ", remote " + remote.size() + ")");
        }
        if (local.size() != remote.size()) {
            throw new IllegalArgumentException("local and remote descriptor counts differ: " + local.size() + " vs " + remote.size());
        }
        long bytes = 0;
        for (int i = 0; i < local.size(); i++) {
            if (local.get(i).length() != remote.get(i).length()) {
                throw new IllegalArgumentException("descriptor " + i + " lengths differ: local " + local.get(i).length()
                        + " vs remote " + remote.get(i).length());
            }
            bytes += local.get(i).length();
        }
        final long total = bytes;
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            MemorySegment l = xferList(tmp, localKind, local);
            MemorySegment r = MemorySegment.NULL;
            MemorySegment opt = MemorySegment.NULL;
            try {
                r = xferList(tmp, remoteKind, remote);
                if (notification != null) {
                    Status.ok(nixl_capi_create_opt_args(scratchPtr), "nixl_capi_create_opt_args");
                    opt = scratchPtr.get(C_POINTER, 0);
                    MemorySegment msg = tmp.allocateFrom(ValueLayout.JAVA_BYTE, notification);
                    Status.ok(nixl_capi_opt_args_set_notif_msg(opt, msg, notification.length), "nixl_capi_opt_args_set_notif_msg");
                    Status.ok(nixl_capi_opt_args_set_has_notif(opt, true), "nixl_capi_opt_args_set_has_notif");
                }
                int rc = nixl_capi_create_xfer_req(h, op.code(), l, r, tmp.allocateFrom(remoteAgent), scratchPtr, opt);
                Status.ok(rc, "nixl_capi_create_xfer_req", () -> op + " of " + local.size() + " descriptor(s), " + total
                        + " B, " + localKind + " -> " + remoteKind + ", agent '" + name + "' -> '" + remoteAgent + "'"
                        + (remotes.contains(remoteAgent) || remoteAgent.equals(name) ? "" : " (no metadata loaded for that peer)")
                        + "; are both sides registered and the ranges inside the registrations?");
                Transfer t = new Transfer(this, op, remoteAgent, local.size(), total, scratchPtr.get(C_POINTER, 0));
                transfers.add(t);
                transfersCreated++;
                return t;
            } finally {
                nixl_capi_destroy_xfer_dlist(l);
                if (!r.equals(MemorySegment.NULL)) {
                    nixl_capi_destroy_xfer_dlist(r);
                }
                if (!opt.equals(MemorySegment.NULL)) {
                    nixl_capi_destroy_opt_args(opt);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Prepares a descriptor list once, for many transfers ({@code nixl_capi_prep_xfer_dlist}): pass it
     * to {@link #makeTransfer} with the indices of the descriptors each transfer moves.
     *
     * @param remoteAgent null for this agent's own (local) memory, or a peer's name for its memory (its
     *        metadata must be loaded)
     * @param kind memory kind of every descriptor
     * @param descs the descriptors, in index order
     * @throws NixlException if NIXL refuses (unregistered memory, unknown peer)
     */
    public PreparedDescriptors prepare(String remoteAgent, MemoryKind kind, List<MemoryDescriptor> descs) {
        Objects.requireNonNull(kind, "kind");
        if (descs.isEmpty()) {
            throw new IllegalArgumentException("a prepared list needs at least one descriptor");
        }
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            MemorySegment list = xferList(tmp, kind, descs);
            try {
                String who = remoteAgent == null ? "" : remoteAgent;
                int rc = nixl_capi_prep_xfer_dlist(h, tmp.allocateFrom(who), list, scratchPtr, MemorySegment.NULL);
                Status.ok(rc, "nixl_capi_prep_xfer_dlist", () -> descs.size() + " " + kind + " descriptor(s) of "
                        + (remoteAgent == null ? "agent '" + name + "' (local)" : "peer '" + remoteAgent + "'")
                        + "; registered, and the peer's metadata loaded?");
                PreparedDescriptors p = new PreparedDescriptors(this, remoteAgent, kind, descs, scratchPtr.get(C_POINTER, 0));
                prepared.add(p);
                return p;
            } finally {
                nixl_capi_destroy_xfer_dlist(list);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Makes a transfer from two prepared lists ({@code nixl_capi_make_xfer_req}): descriptor
     * {@code localIndices[i]} of {@code local} moves to/from {@code remoteIndices[i]} of {@code remote},
     * for {@code i < count}. Cheaper than {@link #createTransfer} when the same memory is moved often.
     *
     * @param notification message delivered to the peer after the data, or null
     * @throws NixlException if NIXL refuses (an index out of range, a released list, an unknown peer)
     */
    public Transfer makeTransfer(TransferOp op, PreparedDescriptors local, int[] localIndices, PreparedDescriptors remote,
                                 int[] remoteIndices, int count, byte[] notification) {
        Objects.requireNonNull(op, "op");
        if (count <= 0 || count > localIndices.length || count > remoteIndices.length) {
            throw new IllegalArgumentException("count " + count + " must be 1.." + Math.min(localIndices.length, remoteIndices.length));
        }
        if (local.agent != this || remote.agent != this) {
            throw new IllegalArgumentException("prepared lists belong to another agent");
        }
        if (local.remoteAgent() != null) {
            throw new IllegalArgumentException("the local list must be prepared for this agent's own memory (remoteAgent null)");
        }
        long bytes = 0;
        for (int i = 0; i < count; i++) {
            bytes += local.length(localIndices[i]);
            if (local.length(localIndices[i]) != remote.length(remoteIndices[i])) {
                throw new IllegalArgumentException("descriptor pair " + i + " lengths differ: local " + local.length(localIndices[i])
                        + " vs remote " + remote.length(remoteIndices[i]));
            }
        }
        final long total = bytes;
        lock.lock();
        try {
            MemorySegment h = live();
            MemorySegment lh = local.live();
            MemorySegment rh = remote.live();
            // One scratch area and one opt_args per agent, reused under the agent's guard: a transfer made
            // from prepared lists costs the make call itself, no per-call arena or option object.
            long need = 8L * count + (notification == null ? 0 : notification.length);
            if (makeScratch.byteSize() < need) {
                makeScratch = arena.allocate(Math.max(need, makeScratch.byteSize() * 2), 8);
            }
            MemorySegment li = makeScratch.asSlice(0, 4L * count);
            MemorySegment ri = makeScratch.asSlice(4L * count, 4L * count);
            MemorySegment.copy(localIndices, 0, li, ValueLayout.JAVA_INT, 0, count);
            MemorySegment.copy(remoteIndices, 0, ri, ValueLayout.JAVA_INT, 0, count);
            MemorySegment opt = MemorySegment.NULL;
            if (notification != null) {
                if (notifOpt.equals(MemorySegment.NULL)) {
                    Status.ok(nixl_capi_create_opt_args(scratchPtr), "nixl_capi_create_opt_args");
                    notifOpt = scratchPtr.get(C_POINTER, 0);
                    Status.ok(nixl_capi_opt_args_set_has_notif(notifOpt, true), "nixl_capi_opt_args_set_has_notif");
                }
                opt = notifOpt;
                MemorySegment msg = makeScratch.asSlice(8L * count, notification.length);
                MemorySegment.copy(notification, 0, msg, ValueLayout.JAVA_BYTE, 0, notification.length);
                Status.ok(nixl_capi_opt_args_set_notif_msg(opt, msg, notification.length), "nixl_capi_opt_args_set_notif_msg");
            }
            int rc = nixl_capi_make_xfer_req(h, op.code(), lh, li, count, rh, ri, count, scratchPtr, opt);
            if (rc != 0) {
                Status.ok(rc, "nixl_capi_make_xfer_req", () -> op + " of " + count + " prepared descriptor(s), " + total
                        + " B, agent '" + name + "' -> '" + remote.remoteAgent() + "'");
            }
            Transfer t = new Transfer(this, op, remote.remoteAgent(), count, total, scratchPtr.get(C_POINTER, 0));
            transfers.add(t);
            transfersCreated++;
            return t;
        } finally {
            lock.unlock();
        }
    }

    void releasePrepared(PreparedDescriptors p) {
        lock.lock();
        try {
            if (p.handle == null || handle == null) {
                return;
            }
            MemorySegment ph = p.handle;
            p.handle = null;
            prepared.remove(p);
            Status.ok(nixl_capi_release_xfer_dlist_handle(handle, ph), "nixl_capi_release_xfer_dlist_handle", p::toString);
        } finally {
            lock.unlock();
        }
    }

    private MemorySegment xferList(Arena tmp, MemoryKind kind, List<MemoryDescriptor> descs) {
        MemorySegment out = tmp.allocate(C_POINTER);
        Status.ok(nixl_capi_create_xfer_dlist(kind.nixlCode(), out), "nixl_capi_create_xfer_dlist");
        MemorySegment dlist = out.get(C_POINTER, 0);
        for (MemoryDescriptor d : descs) {
            int rc = nixl_capi_xfer_dlist_add_desc(dlist, d.address(), d.length(), d.deviceId());
            if (rc != 0) {
                nixl_capi_destroy_xfer_dlist(dlist);
                Status.ok(rc, "nixl_capi_xfer_dlist_add_desc", d::toString);
            }
        }
        return dlist;
    }

    int postNative(MemorySegment req) {
        return nixl_capi_post_xfer_req(live(), req, MemorySegment.NULL);
    }

    int statusNative(MemorySegment req) {
        return CRITICAL_CALLS ? CriticalCalls.getXferStatus(live(), req) : nixl_capi_get_xfer_status(live(), req);
    }

    void releaseTransfer(Transfer t, String reason) {
        lock.lock();
        try {
            if (t.handle == null || handle == null) {
                return;
            }
            releaseNative(t, reason);
        } finally {
            lock.unlock();
        }
    }

    private void releaseNative(Transfer t, String reason) {
        int rc = nixl_capi_release_xfer_req(handle, t.handle);
        if (rc != 0) {
            // The backend refused (still active). Keep the handle; the agent retries at close.
            releaseRefusals++;
            throw new NixlException("nixl_capi_release_xfer_req", rc, t.describe() + " (NIXL refused the release; it "
                    + "will be retried when the agent closes)");
        }
        Status.ok(nixl_capi_destroy_xfer_req(t.handle), "nixl_capi_destroy_xfer_req", t::describe);
        t.markReleased(reason);
        transfers.remove(t);
        transfersReleased++;
    }

    // ---------------------------------------------------------------- notifications

    /** Sends a standalone message to a peer (no ordering against transfers). */
    public void sendNotification(String remoteAgent, byte[] message) {
        Objects.requireNonNull(remoteAgent, "remoteAgent");
        Objects.requireNonNull(message, "message");
        lock.lock();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment h = live();
            MemorySegment msg = tmp.allocateFrom(ValueLayout.JAVA_BYTE, message);
            Status.ok(nixl_capi_gen_notif(h, tmp.allocateFrom(remoteAgent), msg, message.length, MemorySegment.NULL),
                    "nixl_capi_gen_notif", () -> message.length + " B from '" + name + "' to '" + remoteAgent + "'");
        } finally {
            lock.unlock();
        }
    }

    /** Takes every notification that arrived so far (also drives progress). Never blocks. */
    public List<Notification> pollNotifications() {
        lock.lock();
        try {
            MemorySegment h = live();
            int rc = CRITICAL_CALLS ? CriticalCalls.getNotifs(h, notifMap, MemorySegment.NULL)
                    : nixl_capi_get_notifs(h, notifMap, MemorySegment.NULL);
            if (rc != 0) { // the detail is built only on failure: an empty poll allocates nothing
                Status.ok(rc, "nixl_capi_get_notifs", () -> "agent '" + name + "'");
            }
            Status.ok(CRITICAL_CALLS ? CriticalCalls.notifMapSize(notifMap, scratchSize) : nixl_capi_notif_map_size(notifMap, scratchSize),
                    "nixl_capi_notif_map_size");
            long senders = scratchSize.get(ValueLayout.JAVA_LONG, 0);
            if (senders == 0) {
                return List.of();
            }
            List<Notification> out = new ArrayList<>();
            try {
                for (long i = 0; i < senders; i++) {
                    Status.ok(nixl_capi_notif_map_get_agent_at(notifMap, i, scratchPtr), "nixl_capi_notif_map_get_agent_at");
                    MemorySegment senderC = scratchPtr.get(C_POINTER, 0);
                    String sender = NativeLibraries.string(senderC);
                    Status.ok(nixl_capi_notif_map_get_notifs_size(notifMap, senderC, scratchSize), "nixl_capi_notif_map_get_notifs_size");
                    long n = scratchSize.get(ValueLayout.JAVA_LONG, 0);
                    for (long j = 0; j < n; j++) {
                        Status.ok(nixl_capi_notif_map_get_notif(notifMap, senderC, j, scratchPtr2, scratchSize),
                                "nixl_capi_notif_map_get_notif");
                        long len = scratchSize.get(ValueLayout.JAVA_LONG, 0);
                        MemorySegment data = scratchPtr2.get(C_POINTER, 0);
                        byte[] bytes = len == 0 ? new byte[0] : data.reinterpret(len).toArray(ValueLayout.JAVA_BYTE);
                        out.add(new Notification(sender, bytes));
                    }
                }
            } finally {
                nixl_capi_notif_map_clear(notifMap);
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** Receives notifications from {@link #pollNotifications(long, NotificationHandler)}. */
    public interface NotificationHandler {
        /** One notification, copied onto the heap. */
        void message(String sender, byte[] bytes);

        /**
         * One notification longer than the cap (its sender's name and message together): not copied, only
         * reported. A sender name over the cap is given as its first bytes and its length.
         */
        void oversized(String sender, long length);
    }

    /** Bytes of a sender name shown when the name itself is over the cap (never copied whole). */
    private static final int NAME_SHOWN = 64;

    /**
     * Takes every notification that arrived so far (also drives progress) and hands each to
     * {@code handler}: those whose sender name and message together fit in {@code maxBytes} copied,
     * longer ones only reported by length, never copied onto the heap (the sender's name is the sender's
     * own claim, of any length, as is the message). An exception from the handler does not stop the
     * others: every notification is handed over before the first exception is rethrown (the rest
     * suppressed in it). Never blocks.
     *
     * @return the number of notifications taken
     */
    public int pollNotifications(long maxBytes, NotificationHandler handler) {
        Objects.requireNonNull(handler, "handler");
        RuntimeException failure = null;
        int count = 0;
        lock.lock();
        try {
            MemorySegment h = live();
            int rc = CRITICAL_CALLS ? CriticalCalls.getNotifs(h, notifMap, MemorySegment.NULL)
                    : nixl_capi_get_notifs(h, notifMap, MemorySegment.NULL);
            if (rc != 0) {
                Status.ok(rc, "nixl_capi_get_notifs", () -> "agent '" + name + "'");
            }
            Status.ok(CRITICAL_CALLS ? CriticalCalls.notifMapSize(notifMap, scratchSize) : nixl_capi_notif_map_size(notifMap, scratchSize),
                    "nixl_capi_notif_map_size");
            long senders = scratchSize.get(ValueLayout.JAVA_LONG, 0);
            if (senders == 0) {
                return 0;
            }
            try {
                for (long i = 0; i < senders; i++) {
                    Status.ok(nixl_capi_notif_map_get_agent_at(notifMap, i, scratchPtr), "nixl_capi_notif_map_get_agent_at");
                    MemorySegment senderC = scratchPtr.get(C_POINTER, 0);
                    long nameLength = boundedLength(senderC, maxBytes); // the name is the sender's claim: measured, not copied
                    String sender = nameLength <= maxBytes ? NativeLibraries.string(senderC) : namePrefix(senderC, nameLength, maxBytes);
                    Status.ok(nixl_capi_notif_map_get_notifs_size(notifMap, senderC, scratchSize), "nixl_capi_notif_map_get_notifs_size");
                    long n = scratchSize.get(ValueLayout.JAVA_LONG, 0);
                    for (long j = 0; j < n; j++) {
                        Status.ok(nixl_capi_notif_map_get_notif(notifMap, senderC, j, scratchPtr2, scratchSize),
                                "nixl_capi_notif_map_get_notif");
                        long len = scratchSize.get(ValueLayout.JAVA_LONG, 0);
                        count++;
                        try {
                            if (len > maxBytes || nameLength + len > maxBytes) {
                                handler.oversized(sender, nameLength + len); // checked before any copy
                            } else {
                                MemorySegment data = scratchPtr2.get(C_POINTER, 0);
                                byte[] bytes = new byte[(int) len];
                                MemorySegment.copy(data.reinterpret(len), ValueLayout.JAVA_BYTE, 0, bytes, 0, (int) len);
                                handler.message(sender, bytes); // copy, not toArray: that builds an error text every call
                            }
                        } catch (RuntimeException e) {
                            if (failure == null) {
                                failure = e;
                            } else {
                                failure.addSuppressed(e);
                            }
                        }
                    }
                }
            } finally {
                nixl_capi_notif_map_clear(notifMap);
            }
        } finally {
            lock.unlock();
        }
        if (failure != null) {
            throw failure;
        }
        return count;
    }

    /** The first bytes of a sender name over the cap, for the handler and logs. */
    private static String namePrefix(MemorySegment cString, long knownLength, long cap) {
        byte[] shown = cString.reinterpret(Math.min(NAME_SHOWN, knownLength)).toArray(ValueLayout.JAVA_BYTE);
        return new String(shown, java.nio.charset.StandardCharsets.UTF_8) + "... (a name of more than " + cap + " B)";
    }

    /** The length of a C string, or {@code cap + 1} if it is longer than {@code cap}; reads no byte past its end. */
    private static long boundedLength(MemorySegment cString, long cap) {
        long limit = Math.min(cap, Long.MAX_VALUE - 1) + 1;
        MemorySegment s = cString.reinterpret(limit);
        for (long i = 0; i < limit; i++) {
            if (s.get(ValueLayout.JAVA_BYTE, i) == 0) {
                return i;
            }
        }
        return limit;
    }

    /**
     * Polls for notifications until at least one arrived or the timeout passed.
     *
     * @return what arrived; empty at the deadline
     * @throws InterruptedException if the waiting thread was interrupted
     */
    public List<Notification> awaitNotifications(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        long pause = 1_000;
        while (true) {
            List<Notification> got = pollNotifications();
            if (!got.isEmpty() || System.nanoTime() - deadline >= 0) {
                return got;
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted while awaiting notifications on agent '" + name + "'");
            }
            LockSupport.parkNanos(Math.min(pause, Math.max(1, deadline - System.nanoTime())));
            pause = Math.min(pause * 2, 200_000);
        }
    }

    // ---------------------------------------------------------------- accounting and close

    /** Counters of what this agent owns, for tests, {@code kvx doctor} and metrics. */
    public record Stats(int openTransfers, int openRegistrations, int backends, int remotes,
                        long transfersCreated, long transfersReleased, long releaseRefusals, boolean closed) {}

    /** A snapshot of {@link Stats}; valid after close, too. */
    public Stats stats() {
        lock.lock();
        try {
            return new Stats(transfers.size(), registrations.size(), backends.size(), remotes.size(),
                    transfersCreated, transfersReleased, releaseRefusals, handle == null);
        } finally {
            lock.unlock();
        }
    }

    /** Whether the agent was closed. */
    public boolean isClosed() {
        lock.lock();
        try {
            return handle == null;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Releases everything the agent owns, then the agent. Idempotent and thread-safe. In-flight
     * transfers are released (NIXL cancels them as far as it can); registrations are deregistered and
     * their buffers unpinned.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (arena.scope().isAlive() && handle == null && notifMap.equals(MemorySegment.NULL)) {
                arena.close(); // creation failed before the agent existed
                return;
            }
            if (handle == null) {
                return;
            }
            List<Throwable> problems = new ArrayList<>();
            for (Transfer t : List.copyOf(transfers)) {
                try {
                    releaseNative(t, "agent '" + name + "' closed");
                } catch (RuntimeException e) {
                    // Still refused: destroying the agent tears the backend (and the request) down.
                    t.markReleased("agent '" + name + "' closed");
                    problems.add(e);
                }
            }
            transfers.clear();
            for (PreparedDescriptors p : List.copyOf(prepared)) {
                MemorySegment ph = p.handle;
                p.handle = null;
                int prc = nixl_capi_release_xfer_dlist_handle(handle, ph);
                if (prc != 0) {
                    problems.add(new NixlException("nixl_capi_release_xfer_dlist_handle", prc, p.toString()));
                }
            }
            prepared.clear();
            // No deregistration here: nixl_capi_destroy_agent deregisters every registered range
            // itself. Deregistering first makes UCX 1.23 crash in the destroy (use-after-free in
            // ucp_proto_request_zcopy_completion) when a transfer released while still in flight, to
            // a peer that vanished without a reset (host loss, link cut), is purged there.
            List<Registration> held = List.copyOf(registrations);
            held.forEach(Registration::markClosed);
            registrations.clear();
            if (!notifMap.equals(MemorySegment.NULL)) {
                nixl_capi_destroy_notif_map(notifMap);
                notifMap = MemorySegment.NULL;
            }
            if (!notifOpt.equals(MemorySegment.NULL)) {
                nixl_capi_destroy_opt_args(notifOpt);
                notifOpt = MemorySegment.NULL;
            }
            for (Backend b : backends.values()) {
                nixl_capi_destroy_backend(b.handle);
            }
            backends.clear();
            MemorySegment h = handle;
            handle = null;
            int rc = nixl_capi_destroy_agent(h);
            held.forEach(r -> r.buffers().forEach(NativeBuffer::unpin));
            arena.close();
            if (rc != 0) {
                problems.add(new NixlException("nixl_capi_destroy_agent", rc, "agent '" + name + "'"));
            }
            if (!problems.isEmpty()) {
                NixlException summary = new NixlException("nixl_capi_destroy_agent", -2, "agent '" + name
                        + "' closed, but " + problems.size() + " release step(s) failed (suppressed)");
                problems.forEach(summary::addSuppressed);
                throw summary;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Hands a confined agent to another thread. The caller guarantees that no other thread is inside a
     * call on this agent (the transceiver's caller-driven mode hands its agent to the thread that runs
     * the engine's duty cycle). No effect on a shared agent.
     */
    public void confineTo(Thread thread) {
        Objects.requireNonNull(thread, "thread");
        if (lock instanceof AgentGuard.Confined c) {
            c.confineTo(thread);
        }
    }

    /** Whether this agent is confined to one thread ({@link #createConfined}). */
    public boolean isConfined() {
        return lock.isConfined();
    }

    void lock() {
        lock.lock();
    }

    void unlock() {
        lock.unlock();
    }

    private MemorySegment live() {
        MemorySegment h = handle;
        if (h == null) {
            throw new AlreadyClosedException("NIXL agent '" + name + "' was closed");
        }
        return h;
    }

    @Override
    public String toString() {
        return "NixlAgent[" + name + (handle == null ? ", closed" : "") + "]";
    }
}
