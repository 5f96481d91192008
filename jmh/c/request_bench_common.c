/* request_bench_common.c — arguments, the agent, kvx's wire layout, metadata files, marks and statistics
   of jmh/c/request_bench.c (the pools are in request_bench_pool.c). See request_bench_common.h. */
#define _GNU_SOURCE
#include "request_bench_common.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

config_t C;
nixl_capi_agent_t agent;
nixl_capi_notif_map_t notif_map;

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "request_bench %s: ", C.name ? C.name : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stdout);
    _exit(2);
}

double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

long cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* ------------------------------------------------------------------ arguments and plans */
static void parse_plan(plan_t *p, char *text) {
    char *save = NULL;
    p->n = 0;
    for (char *ph = strtok_r(text, ",", &save); ph; ph = strtok_r(NULL, ",", &save)) {
        if (p->n == 16) {
            die("a plan has at most 16 phases");
        }
        phase_t *x = &p->ph[p->n++];
        if (sscanf(ph, "%31[^:]:%d:%d:%d:%d", x->label, &x->inflight, &x->blocks, &x->warmup, &x->measured) != 5
            || x->inflight < 1 || x->blocks < 1 || x->blocks > MAX_BLOCKS || x->warmup < 0 || x->measured < 1) {
            die("bad phase '%s' (label:inflight:blocks:warmup:measured, blocks <= %d)", ph, MAX_BLOCKS);
        }
    }
}

void parse_args(int argc, char **argv) {
    C.dir = ".";
    C.timeout_ms = 30000;
    C.pthr = 1;
    C.pthr_delay_us = 1000;
    C.busy_park_us = 50;
    C.seed = 1;
    C.verify_every = 8;
    C.sessions = "";
    static char plans[8192];
    plans[0] = 0;
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            die("argument '%s' is not key=value", argv[i]);
        }
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "role")) C.role = v;
        else if (!strcmp(k, "name")) C.name = v;
        else if (!strcmp(k, "peer")) C.peer = v;
        else if (!strcmp(k, "dir")) C.dir = v;
        else if (!strcmp(k, "sessions")) C.sessions = v;
        else if (!strcmp(k, "block_bytes")) C.bb = strtoull(v, NULL, 10);
        else if (!strcmp(k, "pool_blocks")) C.pool_blocks = atoi(v);
        else if (!strcmp(k, "plan")) snprintf(plans, sizeof plans, "%s", v);
        else if (!strcmp(k, "mode")) C.pull = !strcmp(v, "pull");
        else if (!strcmp(k, "timeout_ms")) C.timeout_ms = atol(v);
        else if (!strcmp(k, "progress_thread")) C.pthr = atoi(v);
        else if (!strcmp(k, "progress_delay_us")) C.pthr_delay_us = atol(v);
        else if (!strcmp(k, "busy_park_us")) C.busy_park_us = atol(v);
        else if (!strcmp(k, "seed")) C.seed = (unsigned)atol(v);
        else if (!strcmp(k, "verify_every")) C.verify_every = atoi(v);
        else if (!strcmp(k, "mem")) C.vram = !strcmp(v, "vram");
        else if (!strcmp(k, "device")) C.device = atoi(v);
        else if (!strcmp(k, "hugepages")) C.hugepages = atoi(v);
        else die("unknown argument '%s'", k);
    }
    if (!C.role || !C.name || !C.bb || C.bb % 8 || C.bb < 64 || C.pool_blocks < 1 || !plans[0] || C.verify_every < 1) {
        die("needs role=, name=, block_bytes= (a multiple of 8, >= 64), pool_blocks=, plan=; see request_bench_common.h");
    }
    char *save = NULL;
    for (char *s = strtok_r(plans, ";", &save); s; s = strtok_r(NULL, ";", &save)) {
        if (C.nplans == 8) {
            die("at most 8 sessions");
        }
        parse_plan(&C.plans[C.nplans++], s);
    }
}

const phase_t *plan_phase(const plan_t *p, int64_t id) {
    int64_t first = 1;
    for (int i = 0; i < p->n; i++) {
        first += p->ph[i].warmup + p->ph[i].measured;
        if (id < first) {
            return &p->ph[i];
        }
    }
    return &p->ph[p->n - 1];
}

int64_t plan_total(const plan_t *p) {
    int64_t t = 0;
    for (int i = 0; i < p->n; i++) {
        t += p->ph[i].warmup + p->ph[i].measured;
    }
    return t;
}

/* ------------------------------------------------------------------ agent */
nixl_capi_agent_t make_agent(const char *name) {
    nixl_capi_agent_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.enable_prog_thread = C.pthr; /* kvx's AgentConfig.defaults(): on, 1 ms */
    cfg.enable_listen_thread = false;
    cfg.thread_sync = NIXL_CAPI_THREAD_SYNC_NONE;
    cfg.num_workers = 1;
    cfg.pthr_delay_us = C.pthr_delay_us;
    cfg.lthr_delay_us = 100000;
    nixl_capi_agent_t a;
    CHECK(nixl_capi_create_configured_agent(name, &cfg, &a));
    nixl_capi_params_t params;
    CHECK(nixl_capi_create_params(&params));
    const char *spec = getenv("KVX_UCX_PARAMS");
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec ? spec : "");
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            die("KVX_UCX_PARAMS entry '%s' is not key=value", kv);
        }
        *eq = 0;
        CHECK(nixl_capi_params_add(params, kv, eq + 1));
    }
    nixl_capi_backend_t backend;
    CHECK(nixl_capi_create_backend(a, "UCX", params, &backend));
    CHECK(nixl_capi_destroy_params(params));
    return a;
}

/* ------------------------------------------------------------------ wire (kvx's WireCodec layout) */
size_t enc_hdr(uint8_t *b, int type, int64_t id, int32_t epoch, uint32_t payload) {
    b[0] = 'K', b[1] = 'V', b[2] = 'X', b[3] = 1, b[4] = (uint8_t)type;
    memcpy(b + 5, &id, 8);
    memcpy(b + 13, &epoch, 4);
    memcpy(b + 17, &payload, 4);
    return HDR;
}

void send_request_info(const char *peer, int64_t id, const pool_t *p, const int *ids, int n) {
    static uint8_t buf[HDR + 21 + 8 * MAX_BLOCKS];
    uint32_t payload = 21 + 8 * n;
    size_t o = enc_hdr(buf, T_REQUEST_INFO, id, 1, payload);
    int32_t bi = 0, dev = p->vram ? C.device : 0, nn = n;
    uint64_t bb = C.bb;
    memcpy(buf + o, &bi, 4), o += 4;
    memcpy(buf + o, &bb, 8), o += 8;
    memcpy(buf + o, &dev, 4), o += 4;
    buf[o++] = (uint8_t)p->vram;
    memcpy(buf + o, &nn, 4), o += 4;
    for (int i = 0; i < n; i++, o += 8) {
        uint64_t a = p->base + (uint64_t)ids[i] * C.bb;
        memcpy(buf + o, &a, 8);
    }
    CHECK(nixl_capi_gen_notif(agent, peer, buf, o, NULL));
}

void send_pool_info(const char *peer, const pool_t *p) {
    uint8_t buf[HDR + 12];
    size_t o = enc_hdr(buf, T_POOL, 0, 0, 12);
    uint32_t nb = (uint32_t)p->nblocks;
    memcpy(buf + o, &p->base, 8);
    memcpy(buf + o + 8, &nb, 4);
    CHECK(nixl_capi_gen_notif(agent, peer, buf, sizeof buf, NULL));
}

static struct {
    size_t agents, agent, notes, note;
    const char *name;
} cur;

int poll_notifs(void) {
    CHECK(nixl_capi_notif_map_clear(notif_map));
    CHECK(nixl_capi_get_notifs(agent, notif_map, NULL));
    CHECK(nixl_capi_notif_map_size(notif_map, &cur.agents));
    cur.agent = 0;
    cur.notes = cur.note = 0;
    return (int)cur.agents;
}

int next_notif(msg_t *m) {
    static uint64_t addrs[MAX_BLOCKS];
    while (cur.note >= cur.notes) {
        if (cur.agent >= cur.agents) {
            return 0;
        }
        CHECK(nixl_capi_notif_map_get_agent_at(notif_map, cur.agent++, &cur.name));
        CHECK(nixl_capi_notif_map_get_notifs_size(notif_map, cur.name, &cur.notes));
        cur.note = 0;
    }
    const uint8_t *b;
    size_t len;
    CHECK(nixl_capi_notif_map_get_notif(notif_map, cur.name, cur.note++, (const void **)&b, &len));
    uint32_t payload;
    if (len < HDR || b[0] != 'K' || b[1] != 'V' || b[2] != 'X' || b[3] != 1) {
        die("malformed notification of %zu B from %s", len, cur.name);
    }
    memcpy(&payload, b + 17, 4);
    if (payload != len - HDR) {
        die("notification payload %u B, %zu B follow", payload, len - HDR);
    }
    m->type = b[4];
    memcpy(&m->id, b + 5, 8);
    m->n = 0;
    m->addrs = addrs;
    if (m->type == T_REQUEST_INFO) {
        int32_t n;
        memcpy(&n, b + HDR + 17, 4);
        if (payload < 21 || n < 1 || n > MAX_BLOCKS || (uint32_t)(21 + 8 * n) != payload) {
            die("malformed request info (%d blocks, %u B)", n, payload);
        }
        memcpy(addrs, b + HDR + 21, 8 * (size_t)n);
        m->n = n;
    } else if (m->type == T_POOL) {
        uint32_t nb;
        memcpy(&m->pool.base, b + HDR, 8);
        memcpy(&nb, b + HDR + 8, 4);
        m->pool.nblocks = (int)nb;
    }
    return 1;
}

#define STASH 256
static struct {
    int used;
    int64_t id;
    int n;
    uint64_t *addrs;
} stash[STASH];

void stash_put(int64_t id, const uint64_t *addrs, int n) {
    for (int i = 0; i < STASH; i++) {
        if (!stash[i].used) {
            stash[i].addrs = stash[i].addrs ? stash[i].addrs : malloc(MAX_BLOCKS * 8);
            stash[i].used = 1;
            stash[i].id = id;
            stash[i].n = n;
            memcpy(stash[i].addrs, addrs, n * sizeof *addrs);
            return;
        }
    }
    die("more than %d request infos arrived ahead of their requests", STASH);
}

int stash_take(int64_t id, uint64_t *addrs, int *n) {
    for (int i = 0; i < STASH; i++) {
        if (stash[i].used && stash[i].id == id) {
            memcpy(addrs, stash[i].addrs, stash[i].n * sizeof *addrs);
            *n = stash[i].n;
            stash[i].used = 0;
            return 1;
        }
    }
    return 0;
}

remote_pool_t await_pool_info(const char *peer) {
    double until = now_s() + 120;
    backoff_t bo = {0};
    remote_pool_t got = {0};
    while (now_s() < until) {
        msg_t m;
        poll_notifs();
        while (next_notif(&m)) { /* the whole batch: request infos behind it are kept */
            if (m.type == T_POOL) {
                got = m.pool;
            } else if (m.type == T_REQUEST_INFO) {
                stash_put(m.id, m.addrs, m.n);
            }
        }
        if (got.nblocks) {
            return got;
        }
        backoff(&bo, 0, 0);
    }
    die("no pool description from %s within 120 s", peer);
}

/* ------------------------------------------------------------------ metadata through files in dir= */
void publish_md(void) {
    void *md;
    size_t len;
    CHECK(nixl_capi_get_local_md(agent, &md, &len));
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/%s.md.tmp", C.dir, C.name);
    snprintf(path, sizeof path, "%s/%s.md", C.dir, C.name);
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(md, 1, len, f) != len || fclose(f) || rename(tmp, path)) {
        die("cannot write %s: %s", path, strerror(errno));
    }
    free(md);
}

char *load_peer_md(const char *peer_name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.md", C.dir, peer_name);
    double until = now_s() + 120;
    FILE *f;
    while (!(f = fopen(path, "rb"))) {
        if (now_s() > until) {
            die("no metadata of %s at %s within 120 s", peer_name, path);
        }
        usleep(2000);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *md = malloc(len);
    if (fread(md, 1, len, f) != (size_t)len) {
        die("short read of %s", path);
    }
    fclose(f);
    char *name;
    CHECK(nixl_capi_load_remote_md(agent, md, len, &name));
    free(md);
    return name;
}

/* ------------------------------------------------------------------ marks, back-off, statistics */
static void *mark_thread(void *arg) {
    (void)arg;
    char line[256], label[64], what[16];
    while (fgets(line, sizeof line, stdin)) {
        if (sscanf(line, "MARK %63s %15s", label, what) == 2) {
            printf("RB\tCPU\t%s\t%s\t%ld\t%.0f\n", label, what, cpu_ns(), now_s() * 1e9);
            fflush(stdout);
        }
    }
    return NULL;
}

static pthread_t marks;

void start_mark_thread(void) {
    if (pthread_create(&marks, NULL, mark_thread, NULL)) {
        die("pthread_create failed");
    }
}

void join_mark_thread(void) {
    pthread_join(marks, NULL); /* the driver closes stdin once the last decode process is done */
}

void backoff(backoff_t *b, int progressed, int busy) {
    if (progressed || !b->pause_ns) {
        b->pause_ns = 1000;
        if (progressed) {
            return;
        }
    }
    long p = busy && b->pause_ns > C.busy_park_us * 1000 ? C.busy_park_us * 1000 : b->pause_ns;
    struct timespec ts = {p / 1000000000L, p % 1000000000L};
    nanosleep(&ts, NULL);
    b->pause_ns = b->pause_ns * 2 > 1000000 ? 1000000 : b->pause_ns * 2;
}

void stats_open(phase_stats_t *s, const phase_t *ph) {
    memset(s, 0, sizeof *s);
    s->ph = ph;
    s->lat = malloc(ph->measured * sizeof(double));
}

/* The driver answers a mark once it has read both processes' counters (EOF: no driver, go on). */
static void await_driver(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
        clearerr(stdin);
    }
}

void stats_begin(phase_stats_t *s) {
    printf("RB\tMARK\t%s\tbegin\n", s->ph->label);
    fflush(stdout);
    await_driver();
    s->t0 = now_s();
    s->cpu0 = cpu_ns();
}

void stats_add(phase_stats_t *s, double latency, double t) {
    s->lat[s->nlat++] = latency;
    s->last = t;
}

void stats_end(phase_stats_t *s) {
    long cpu = cpu_ns() - s->cpu0;
    printf("RB\tMARK\t%s\tend\n", s->ph->label);
    fflush(stdout);
    await_driver();
    char path[4096];
    snprintf(path, sizeof path, "%s/lat-%s-%s.txt", C.dir, C.name, s->ph->label);
    FILE *f = fopen(path, "w");
    if (!f) {
        die("cannot write %s", path);
    }
    for (long i = 0; i < s->nlat; i++) {
        fprintf(f, "%.0f\n", s->lat[i] * 1e9);
    }
    fclose(f);
    printf("RB\tRESULT\t%s\trequests\t%ld\n", s->ph->label, s->nlat);
    printf("RB\tRESULT\t%s\tseconds\t%.6f\n", s->ph->label, s->last - s->t0);
    printf("RB\tRESULT\t%s\tcpu_ns\t%ld\n", s->ph->label, cpu);
    printf("RB\tRESULT\t%s\tlatency_file\t%s\n", s->ph->label, path);
    fflush(stdout);
    free(s->lat);
}
