/*
 * request_bench.c — the C side of the request-level benchmark (jmh/request_driver.py starts a
 * prefill and a decode process of it, next to kvx's and NIXL-Python's processes doing the same).
 *
 * Protocol, push mode (kvx's): the decode side sends a RequestInfo notification (kvx's wire layout,
 * WireCodec: request id + its block addresses); the prefill side turns the addresses into indices of a
 * remote descriptor list prepared once per peer (nixl_capi_prep_xfer_dlist), makes the WRITE from the
 * two prepared lists (nixl_capi_make_xfer_req) with a DataDone notification attached, posts it and
 * polls it until terminal; the decode side completes the request on the DataDone.
 * Pull mode (the one-sided READ baseline): the prefill side announces each request's blocks with a
 * RequestInfo; the decode side READs them from prepared lists with a DataDone notification attached
 * (it tells the prefill side that the blocks may be reused) and completes on the READ's status.
 * Both sides keep per-request deadlines checked on every loop, and back off like kvx's engine
 * (1 us doubling to 50 us while busy) when a loop made no progress. Block contents are verified on
 * the decode side (see verify()). Arguments are key=value (see request_bench_common.h).
 * Output on stdout: "RB<TAB>..." lines read by the driver.
 */
#define _GNU_SOURCE
#include "request_bench_common.h"

#include <unistd.h>

/* ------------------------------------------------------------------ per-request state */
enum { FREE = 0, WAIT_INFO, IN_FLIGHT, WAIT_DATA };
typedef struct {
    int state;
    int64_t id;
    int n;
    int *blocks;       /* local block ids */
    uint64_t *remote;  /* remote block addresses (from the RequestInfo) */
    double t_submit, deadline;
    nixl_capi_xfer_req_t xfer;
    int measured;
} slot_t;

static slot_t *slots;
static int nslots;
static int active_count(void);

static slot_t *slot_find(int64_t id) {
    for (int i = 0; i < nslots; i++) {
        if (slots[i].state != FREE && slots[i].id == id) {
            return &slots[i];
        }
    }
    return NULL;
}

static slot_t *slot_take(int64_t id, int n) {
    for (int i = 0; i < nslots; i++) {
        if (slots[i].state == FREE) {
            slots[i].id = id;
            slots[i].n = n;
            slots[i].xfer = NULL;
            return &slots[i];
        }
    }
    die("no free request slot for request %ld", (long)id);
    return NULL;
}

/* ------------------------------------------------------------------ transfers from prepared lists */
static nixl_capi_xfer_dlist_handle_t prep_pool(pool_t *p, const char *agent_name, uint64_t base, int nblocks) {
    nixl_capi_xfer_dlist_t l;
    CHECK(nixl_capi_create_xfer_dlist(p->vram ? NIXL_CAPI_MEM_VRAM : NIXL_CAPI_MEM_DRAM, &l));
    for (int i = 0; i < nblocks; i++) {
        CHECK(nixl_capi_xfer_dlist_add_desc(l, base + (uint64_t)i * C.bb, C.bb, p->vram ? C.device : 0));
    }
    nixl_capi_xfer_dlist_handle_t h;
    CHECK(nixl_capi_prep_xfer_dlist(agent, agent_name, l, &h, NULL));
    CHECK(nixl_capi_destroy_xfer_dlist(l));
    return h;
}

static nixl_capi_opt_args_t notif_args;

static nixl_capi_status_t start_xfer(nixl_capi_xfer_op_t op, slot_t *s, nixl_capi_xfer_dlist_handle_t lh,
                                     nixl_capi_xfer_dlist_handle_t rh, const remote_pool_t *rp) {
    int lidx[MAX_BLOCKS], ridx[MAX_BLOCKS];
    for (int i = 0; i < s->n; i++) {
        lidx[i] = s->blocks[i];
        uint64_t off = s->remote[i] - rp->base;
        if (s->remote[i] < rp->base || off % C.bb || off / C.bb >= (uint64_t)rp->nblocks) {
            die("request %ld: block address 0x%lx is outside the peer's pool", (long)s->id, (unsigned long)s->remote[i]);
        }
        ridx[i] = (int)(off / C.bb);
    }
    uint8_t note[HDR];
    enc_hdr(note, T_DATA_DONE, s->id, 1, 0);
    CHECK(nixl_capi_opt_args_set_notif_msg(notif_args, note, sizeof note));
    CHECK(nixl_capi_opt_args_set_has_notif(notif_args, true));
    CHECK(nixl_capi_make_xfer_req(agent, op, lh, lidx, s->n, rh, ridx, s->n, &s->xfer, notif_args));
    nixl_capi_status_t st = nixl_capi_post_xfer_req(agent, s->xfer, NULL);
    if (st < 0) {
        die("request %ld: post failed with %d", (long)s->id, st);
    }
    return st;
}

static void end_xfer(slot_t *s) {
    CHECK(nixl_capi_release_xfer_req(agent, s->xfer));
    CHECK(nixl_capi_destroy_xfer_req(s->xfer));
    s->xfer = NULL;
}

/* polls one in-flight transfer: 1 when it finished */
static int poll_xfer(slot_t *s) {
    nixl_capi_status_t st = nixl_capi_get_xfer_status(agent, s->xfer);
    if (st == NIXL_CAPI_IN_PROG) {
        return 0;
    }
    if (st != NIXL_CAPI_SUCCESS) {
        die("request %ld: transfer failed with %d", (long)s->id, st);
    }
    end_xfer(s);
    return 1;
}

static void check_deadlines(double now) {
    for (int i = 0; i < nslots; i++) {
        if (slots[i].state != FREE && now > slots[i].deadline) {
            die("request %ld timed out after %ld ms in state %d", (long)slots[i].id, C.timeout_ms, slots[i].state);
        }
    }
}

/* ------------------------------------------------------------------ prefill */
static void prefill_session(pool_t *pool, nixl_capi_xfer_dlist_handle_t local_h, const char *decode_name, const plan_t *plan) {
    char *peer = load_peer_md(decode_name);
    int pull = C.pull;
    remote_pool_t rp = {0};
    nixl_capi_xfer_dlist_handle_t remote_h = NULL;
    if (pull) {
        send_pool_info(peer, pool); /* the decode side prepares its remote list over our pool */
    } else {
        rp = await_pool_info(peer);
        remote_h = prep_pool(pool, peer, rp.base, rp.nblocks);
    }
    int64_t next_id = 1, total = plan_total(plan), done = 0;
    int n;
    backoff_t bo = {0};
    while (done < total) {
        int progressed = 0;
        double now = now_s();
        /* admission: like kvx's context side, sends are submitted ahead of the request infos */
        while (next_id <= total) {
            const phase_t *ph = plan_phase(plan, next_id);
            if (active_count() >= 2 * ph->inflight || pool_free(pool) < ph->blocks) {
                break;
            }
            slot_t *s = slot_take(next_id++, ph->blocks);
            s->blocks = s->blocks ? s->blocks : malloc(MAX_BLOCKS * sizeof(int));
            s->remote = s->remote ? s->remote : malloc(MAX_BLOCKS * sizeof(uint64_t));
            pool_alloc(pool, s->blocks, s->n);
            s->deadline = now + C.timeout_ms / 1e3;
            if (pull) {
                send_request_info(peer, s->id, pool, s->blocks, s->n);
                s->state = WAIT_DATA;
            } else if (stash_take(s->id, s->remote, &n)) {
                if (n != s->n) {
                    die("request %ld: peer asked for %d blocks, plan says %d", (long)s->id, n, s->n);
                }
                s->state = start_xfer(NIXL_CAPI_XFER_OP_WRITE, s, local_h, remote_h, &rp) == NIXL_CAPI_SUCCESS ? -1 : IN_FLIGHT;
            } else {
                s->state = WAIT_INFO;
            }
            progressed = 1;
        }
        /* notifications */
        msg_t m;
        poll_notifs();
        while (next_notif(&m)) {
            progressed = 1;
            slot_t *s = slot_find(m.id);
            if (m.type == T_REQUEST_INFO && !pull) {
                if (!s) {
                    stash_put(m.id, m.addrs, m.n);
                    continue;
                }
                if (s->state != WAIT_INFO || m.n != s->n) {
                    die("request %ld: unexpected request info (%d blocks) in state %d", (long)m.id, m.n, s->state);
                }
                memcpy(s->remote, m.addrs, m.n * sizeof *m.addrs);
                s->state = start_xfer(NIXL_CAPI_XFER_OP_WRITE, s, local_h, remote_h, &rp) == NIXL_CAPI_SUCCESS ? -1 : IN_FLIGHT;
            } else if (m.type == T_DATA_DONE && pull && s && s->state == WAIT_DATA) {
                s->state = -1; /* the decode side read the blocks */
            } else {
                die("unexpected message type %d for request %ld", m.type, (long)m.id);
            }
        }
        /* transfers and completions */
        for (int i = 0; i < nslots; i++) {
            slot_t *s = &slots[i];
            if (s->state == IN_FLIGHT && poll_xfer(s)) {
                s->state = -1;
            }
            if (s->state == -1) {
                pool_release(pool, s->blocks, s->n);
                s->state = FREE;
                done++;
                progressed = 1;
            }
        }
        check_deadlines(now);
        backoff(&bo, progressed, active_count() > 0);
    }
    if (remote_h) {
        CHECK(nixl_capi_release_xfer_dlist_handle(agent, remote_h));
    }
    free(peer);
}

static void run_prefill(void) {
    pool_t pool;
    pool_open(&pool, 1);
    publish_md();
    nixl_capi_xfer_dlist_handle_t local_h = prep_pool(&pool, "", pool.base, pool.nblocks);
    start_mark_thread(); /* CPU marks relayed by the driver from the decode side */
    char names[4096];
    snprintf(names, sizeof names, "%s", C.sessions);
    char *save = NULL;
    int k = 0;
    for (char *name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save), k++) {
        if (k >= C.nplans) {
            die("sessions= names more decode processes than plan= has sessions");
        }
        prefill_session(&pool, local_h, name, &C.plans[k]);
        printf("RB\tSESSION_DONE\t%s\n", name);
        fflush(stdout);
    }
    join_mark_thread(); /* the last phase's end mark may still be on its way */
}

/* ------------------------------------------------------------------ decode */
static void run_decode(void) {
    pool_t pool;
    pool_open(&pool, 0);
    publish_md();
    char *peer = load_peer_md(C.peer);
    nixl_capi_xfer_dlist_handle_t local_h = NULL, remote_h = NULL;
    remote_pool_t rp = {0};
    if (C.pull) {
        local_h = prep_pool(&pool, "", pool.base, pool.nblocks);
        rp = await_pool_info(peer);
        remote_h = prep_pool(&pool, peer, rp.base, rp.nblocks);
    } else {
        send_pool_info(peer, &pool);
    }
    const plan_t *plan = &C.plans[0];
    int64_t id = 1;
    for (int p = 0; p < plan->n; p++) {
        const phase_t *ph = &plan->ph[p];
        phase_stats_t st;
        stats_open(&st, ph);
        int64_t first = id, end = id + ph->warmup + ph->measured, done_count = 0;
        backoff_t bo = {0};
        while (first + done_count < end) {
            int progressed = 0;
            double now = now_s();
            while (id < end && active_count() < ph->inflight && pool_free(&pool) >= ph->blocks) {
                uint64_t addrs[MAX_BLOCKS];
                int n = 0;
                if (C.pull && !stash_take(id, addrs, &n)) {
                    break; /* its blocks were not announced yet */
                }
                if (id - first == ph->warmup) {
                    stats_begin(&st);
                }
                slot_t *s = slot_take(id, ph->blocks);
                s->blocks = s->blocks ? s->blocks : malloc(MAX_BLOCKS * sizeof(int));
                s->remote = s->remote ? s->remote : malloc(MAX_BLOCKS * sizeof(uint64_t));
                pool_alloc(&pool, s->blocks, s->n);
                s->measured = id - first >= ph->warmup;
                clear_headers(&pool, id, s->blocks, s->n);
                s->t_submit = now_s();
                s->deadline = s->t_submit + C.timeout_ms / 1e3;
                if (C.pull) {
                    if (n != s->n) {
                        die("request %ld: prefill announced %d blocks, plan says %d", (long)id, n, s->n);
                    }
                    memcpy(s->remote, addrs, n * sizeof *addrs);
                    s->state = start_xfer(NIXL_CAPI_XFER_OP_READ, s, local_h, remote_h, &rp) == NIXL_CAPI_SUCCESS ? -1 : IN_FLIGHT;
                } else {
                    send_request_info(peer, id, &pool, s->blocks, s->n);
                    s->state = WAIT_DATA;
                }
                id++;
                progressed = 1;
            }
            msg_t m;
            poll_notifs();
            while (next_notif(&m)) {
                progressed = 1;
                slot_t *s = slot_find(m.id);
                if (m.type == T_DATA_DONE && !C.pull && s && s->state == WAIT_DATA) {
                    s->state = -1;
                } else if (m.type == T_REQUEST_INFO && C.pull) {
                    stash_put(m.id, m.addrs, m.n);
                } else {
                    die("unexpected message type %d for request %ld", m.type, (long)m.id);
                }
            }
            for (int i = 0; i < nslots; i++) {
                slot_t *s = &slots[i];
                if (s->state == IN_FLIGHT && poll_xfer(s)) {
                    s->state = -1;
                }
                if (s->state == -1) {
                    double t = now_s();
                    verify(&pool, s->id, s->blocks, s->n);
                    if (s->measured) {
                        stats_add(&st, t - s->t_submit, t);
                    }
                    pool_release(&pool, s->blocks, s->n);
                    s->state = FREE;
                    done_count++;
                    progressed = 1;
                }
            }
            check_deadlines(now);
            backoff(&bo, progressed, active_count() > 0);
        }
        stats_end(&st);
    }
    free(peer);
}

static int active_count(void) {
    int n = 0;
    for (int i = 0; i < nslots; i++) {
        n += slots[i].state != FREE;
    }
    return n;
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    nslots = 1024;
    slots = calloc(nslots, sizeof *slots);
    agent = make_agent(C.name);
    CHECK(nixl_capi_create_opt_args(&notif_args));
    CHECK(nixl_capi_create_notif_map(&notif_map));
    if (!strcmp(C.role, "prefill")) {
        run_prefill();
    } else if (!strcmp(C.role, "decode")) {
        run_decode();
    } else {
        die("role must be prefill or decode, got '%s'", C.role);
    }
    fflush(stdout);
    _exit(0); /* agents are left to process exit: destroying them is not what is measured */
}
