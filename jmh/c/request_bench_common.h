/*
 * request_bench_common.h — what jmh/c/request_bench.c's protocol loops stand on: arguments, the
 * NIXL agent with kvx's settings, kvx's wire layout, the metadata exchange through files, per-phase
 * statistics and the CPU marks relayed by the driver (request_bench_common.c), and the block pool
 * with its verification (request_bench_pool.c).
 *
 * Arguments (key=value; the driver passes the same ones to kvx's and Python's processes):
 *   role=prefill|decode name=AGENT dir=RUNDIR block_bytes=B pool_blocks=N
 *   plan=PHASES[;PHASES...]  a phase is label:inflight:blocks:warmup:measured, phases joined by ','
 *                            (prefill: one PHASES per decode session, in the order of sessions=)
 *   sessions=DEC1,DEC2       (prefill) the decode agents it serves, one after the other
 *   peer=PREFILL             (decode) the prefill agent
 *   mode=push|pull  timeout_ms=30000  progress_thread=1  progress_delay_us=1000  busy_park_us=50
 *   seed=1  verify_every=8  mem=dram|vram  device=0
 *   hugepages=0|1            DRAM pools with transparent huge pages (madvise) or without
 * UCX backend parameters come from $KVX_UCX_PARAMS (key=value,...), as for kvx.
 */
#ifndef REQUEST_BENCH_COMMON_H
#define REQUEST_BENCH_COMMON_H

#include "nixl_capi.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCKS 8192
#define HDR 21 /* kvx WireCodec header: "KVX", version, type, id, epoch, payload length */
#define T_REQUEST_INFO 1
#define T_DATA_DONE 2
#define T_POOL 100 /* connection set-up of this benchmark only: a pool's base, block size and count */

#define CHECK(call)                                                                                 \
    do {                                                                                            \
        nixl_capi_status_t rc_ = (call);                                                            \
        if (rc_ != NIXL_CAPI_SUCCESS) {                                                             \
            die("%s failed with %d (%s:%d)", #call, rc_, __FILE__, __LINE__);                       \
        }                                                                                           \
    } while (0)

typedef struct {
    char label[32];
    int inflight, blocks, warmup, measured;
} phase_t;

typedef struct {
    phase_t ph[16];
    int n;
} plan_t;

typedef struct {
    const char *role, *name, *peer, *dir, *sessions;
    size_t bb;
    int pool_blocks, pull, vram, device, verify_every, pthr, nplans, hugepages;
    long timeout_ms, pthr_delay_us, busy_park_us;
    unsigned seed;
    plan_t plans[8];
} config_t;

typedef struct {
    int vram;
    int nblocks;
    uint8_t *host;  /* DRAM pool, or NULL */
    uint64_t base;  /* address of block 0 (host or device) */
    int *ring;      /* FIFO free list of block ids, first filled in a seeded shuffle */
    int head, count;
} pool_t;

typedef struct {
    uint64_t base;
    int nblocks;
} remote_pool_t;

typedef struct {
    int type;
    int64_t id;
    int n;
    const uint64_t *addrs;
    remote_pool_t pool;
} msg_t;

typedef struct {
    long pause_ns;
} backoff_t;

typedef struct {
    const phase_t *ph;
    double t0, last;
    long cpu0;
    double *lat;
    long nlat;
} phase_stats_t;

extern config_t C;
extern nixl_capi_agent_t agent;
extern nixl_capi_notif_map_t notif_map;

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
double now_s(void);
long cpu_ns(void);
void parse_args(int argc, char **argv);
const phase_t *plan_phase(const plan_t *p, int64_t id);
int64_t plan_total(const plan_t *p);
nixl_capi_agent_t make_agent(const char *name);

void pool_open(pool_t *p, int fill);
int pool_free(const pool_t *p);
void pool_alloc(pool_t *p, int *ids, int n);
void pool_release(pool_t *p, const int *ids, int n);
void clear_headers(pool_t *p, int64_t id, const int *ids, int n);
void verify(pool_t *p, int64_t id, const int *ids, int n);

size_t enc_hdr(uint8_t *b, int type, int64_t id, int32_t epoch, uint32_t payload);
void send_request_info(const char *peer, int64_t id, const pool_t *p, const int *ids, int n);
void send_pool_info(const char *peer, const pool_t *p);
int poll_notifs(void);
int next_notif(msg_t *m);
remote_pool_t await_pool_info(const char *peer);
void stash_put(int64_t id, const uint64_t *addrs, int n);
int stash_take(int64_t id, uint64_t *addrs, int *n);

void publish_md(void);
char *load_peer_md(const char *peer_name);
void start_mark_thread(void);
void join_mark_thread(void);
void backoff(backoff_t *b, int progressed, int busy);
void stats_open(phase_stats_t *s, const phase_t *ph);
void stats_begin(phase_stats_t *s);
void stats_add(phase_stats_t *s, double latency, double t);
void stats_end(phase_stats_t *s);

#endif
