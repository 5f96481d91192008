/*
 * nixl_baseline.c — the C side of kvx's benchmark suite (jmh/run-benchmarks.sh builds it with gcc
 * against .native/'s libnixl_capi.so and runs it in the same invocation as JMH).
 *
 * It makes exactly the NIXL calls the Java benchmarks make, with the same agent setup as kvx's
 * defaults (AgentConfig.defaults(): progress thread on, 1 ms delay, no thread sync; UCX backend
 * with NIXL's default parameters), so each Java figure has a baseline from the same machine and run:
 *   status_poll        nixl_capi_get_xfer_status on a finished WRITE (a call that returns at once)
 *   notif_drain        nixl_capi_get_notifs + nixl_capi_notif_map_size with nothing pending
 *   post_done  SIZE    post a prepared WRITE of SIZE bytes, spin on get_xfer_status until done
 *   inflight   SIZE K  K prepared WRITEs in flight, round robin: wait for the oldest, repost it
 *   memcpy     SIZE    memcpy of SIZE bytes between two buffers (this machine's copy limit)
 * Output: one line per figure, "name<TAB>param<TAB>value<TAB>unit", on stdout.
 */
#define _GNU_SOURCE
#include "nixl_capi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define CHECK(call)                                                                         \
    do {                                                                                    \
        nixl_capi_status_t rc_ = (call);                                                    \
        if (rc_ != NIXL_CAPI_SUCCESS) {                                                     \
            fprintf(stderr, "nixl_baseline: %s failed with %d (%s:%d)\n", #call, rc_, __FILE__, __LINE__); \
            exit(2);                                                                        \
        }                                                                                   \
    } while (0)

static nixl_capi_agent_t make_agent(const char *name) {
    nixl_capi_agent_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.enable_prog_thread = true; /* kvx's AgentConfig.defaults() */
    cfg.enable_listen_thread = false;
    cfg.thread_sync = NIXL_CAPI_THREAD_SYNC_NONE;
    cfg.num_workers = 1;
    cfg.pthr_delay_us = 1000;
    cfg.lthr_delay_us = 100000;
    nixl_capi_agent_t agent;
    CHECK(nixl_capi_create_configured_agent(name, &cfg, &agent));
    nixl_capi_params_t params;
    CHECK(nixl_capi_create_params(&params));
    nixl_capi_backend_t backend;
    CHECK(nixl_capi_create_backend(agent, "UCX", params, &backend));
    CHECK(nixl_capi_destroy_params(params));
    return agent;
}

static void register_dram(nixl_capi_agent_t agent, void *addr, size_t len) {
    nixl_capi_reg_dlist_t d;
    CHECK(nixl_capi_create_reg_dlist(NIXL_CAPI_MEM_DRAM, &d));
    CHECK(nixl_capi_reg_dlist_add_desc(d, (uintptr_t)addr, len, 0, NULL, 0));
    CHECK(nixl_capi_register_mem(agent, d, NULL));
    CHECK(nixl_capi_destroy_reg_dlist(d));
}

static nixl_capi_xfer_req_t prepare_write(nixl_capi_agent_t a, void *src, void *dst, size_t len, const char *target) {
    nixl_capi_xfer_dlist_t l, r;
    CHECK(nixl_capi_create_xfer_dlist(NIXL_CAPI_MEM_DRAM, &l));
    CHECK(nixl_capi_create_xfer_dlist(NIXL_CAPI_MEM_DRAM, &r));
    CHECK(nixl_capi_xfer_dlist_add_desc(l, (uintptr_t)src, len, 0));
    CHECK(nixl_capi_xfer_dlist_add_desc(r, (uintptr_t)dst, len, 0));
    nixl_capi_xfer_req_t req;
    CHECK(nixl_capi_create_xfer_req(a, NIXL_CAPI_XFER_OP_WRITE, l, r, target, &req, NULL));
    CHECK(nixl_capi_destroy_xfer_dlist(l));
    CHECK(nixl_capi_destroy_xfer_dlist(r));
    return req;
}

static void wait_done(nixl_capi_agent_t a, nixl_capi_xfer_req_t req) {
    nixl_capi_status_t s;
    while ((s = nixl_capi_get_xfer_status(a, req)) == NIXL_CAPI_IN_PROG) {
    }
    if (s != NIXL_CAPI_SUCCESS) {
        fprintf(stderr, "nixl_baseline: transfer failed with %d\n", s);
        exit(2);
    }
}

static void post_wait(nixl_capi_agent_t a, nixl_capi_xfer_req_t req) {
    nixl_capi_status_t s = nixl_capi_post_xfer_req(a, req, NULL);
    if (s == NIXL_CAPI_IN_PROG) {
        wait_done(a, req);
    } else if (s != NIXL_CAPI_SUCCESS) {
        fprintf(stderr, "nixl_baseline: post failed with %d\n", s);
        exit(2);
    }
}

struct pair {
    nixl_capi_agent_t init, target;
    char *src, *dst;
    size_t cap;
};

static void pair_open(struct pair *p, size_t cap) {
    p->init = make_agent("c-bench-initiator");
    p->target = make_agent("c-bench-target");
    p->cap = cap;
    if (posix_memalign((void **)&p->src, 4096, cap) || posix_memalign((void **)&p->dst, 4096, cap)) {
        fprintf(stderr, "nixl_baseline: out of memory for %zu B\n", cap);
        exit(2);
    }
    memset(p->src, 1, cap);
    memset(p->dst, 0, cap);
    register_dram(p->init, p->src, cap);
    register_dram(p->target, p->dst, cap);
    void *md;
    size_t md_len;
    CHECK(nixl_capi_get_local_md(p->target, &md, &md_len));
    char *name;
    CHECK(nixl_capi_load_remote_md(p->init, md, md_len, &name));
    free(md);
    free(name);
}

static double seconds_arg(void) {
    const char *s = getenv("KVX_BENCH_SECONDS");
    return s ? atof(s) : 2.0;
}

int main(int argc, char **argv) {
    double secs = seconds_arg();
    size_t max_size = 64u << 20;
    struct pair p;
    pair_open(&p, max_size);

    /* status poll on a finished transfer */
    nixl_capi_xfer_req_t small = prepare_write(p.init, p.src, p.dst, 4096, "c-bench-target");
    post_wait(p.init, small);
    for (int round = 0; round < 2; round++) { /* the first round warms up */
        long n = 0;
        double t0 = now_s(), t;
        do {
            for (int i = 0; i < 10000; i++) {
                if (nixl_capi_get_xfer_status(p.init, small) != NIXL_CAPI_SUCCESS) {
                    exit(3);
                }
            }
            n += 10000;
        } while ((t = now_s()) - t0 < secs / 2);
        if (round == 1) {
            printf("status_poll\t-\t%.2f\tns/op\n", (t - t0) * 1e9 / n);
        }
    }

    /* empty notification drain on the target */
    nixl_capi_notif_map_t map;
    CHECK(nixl_capi_create_notif_map(&map));
    for (int round = 0; round < 2; round++) {
        long n = 0;
        double t0 = now_s(), t;
        size_t sz;
        do {
            for (int i = 0; i < 1000; i++) {
                CHECK(nixl_capi_get_notifs(p.target, map, NULL));
                CHECK(nixl_capi_notif_map_size(map, &sz));
                if (sz) {
                    CHECK(nixl_capi_notif_map_clear(map));
                }
            }
            n += 1000;
        } while ((t = now_s()) - t0 < secs / 2);
        if (round == 1) {
            printf("notif_drain\t-\t%.2f\tns/op\n", (t - t0) * 1e9 / n);
        }
    }

    /* post -> done of one prepared WRITE, per size */
    size_t sizes[] = {4096, 65536, 1u << 20, 16u << 20, 64u << 20};
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t size = sizes[k];
        nixl_capi_xfer_req_t req = prepare_write(p.init, p.src, p.dst, size, "c-bench-target");
        for (int round = 0; round < 2; round++) {
            long n = 0;
            double t0 = now_s(), t;
            do {
                post_wait(p.init, req);
                n++;
            } while ((t = now_s()) - t0 < secs / 2);
            if (round == 1) {
                printf("post_done\t%zu\t%.1f\tns/op\n", size, (t - t0) * 1e9 / n);
                printf("post_done_bw\t%zu\t%.3f\tGB/s\n", size, size * (double)n / (t - t0) / 1e9);
            }
        }
        CHECK(nixl_capi_release_xfer_req(p.init, req));
    }

    /* many small transfers in flight, round robin */
    int depth = argc > 1 ? atoi(argv[1]) : 64;
    size_t small_sizes[] = {4096, 65536};
    for (unsigned k = 0; k < 2; k++) {
        size_t size = small_sizes[k];
        nixl_capi_xfer_req_t *reqs = calloc(depth, sizeof *reqs);
        for (int i = 0; i < depth; i++) {
            reqs[i] = prepare_write(p.init, p.src + (size_t)i * size, p.dst + (size_t)i * size, size, "c-bench-target");
            nixl_capi_status_t s = nixl_capi_post_xfer_req(p.init, reqs[i], NULL);
            if (s < 0) {
                exit(4);
            }
        }
        for (int round = 0; round < 2; round++) {
            long n = 0;
            int next = 0;
            double t0 = now_s(), t;
            do {
                for (int i = 0; i < 256; i++) {
                    wait_done(p.init, reqs[next]);
                    if (nixl_capi_post_xfer_req(p.init, reqs[next], NULL) < 0) {
                        exit(4);
                    }
                    next = (next + 1) % depth;
                }
                n += 256;
            } while ((t = now_s()) - t0 < secs / 2);
            if (round == 1) {
                printf("inflight\t%zu\t%.0f\ttransfers/s\n", size, n / (t - t0));
            }
        }
        for (int i = 0; i < depth; i++) {
            wait_done(p.init, reqs[i]);
            CHECK(nixl_capi_release_xfer_req(p.init, reqs[i]));
        }
        free(reqs);
    }

    /* memcpy, the copy limit of this machine */
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t size = sizes[k];
        for (int round = 0; round < 2; round++) {
            long n = 0;
            double t0 = now_s(), t;
            do {
                memcpy(p.dst, p.src, size);
                __asm__ __volatile__("" ::: "memory");
                n++;
            } while ((t = now_s()) - t0 < secs / 4);
            if (round == 1) {
                printf("memcpy_bw\t%zu\t%.3f\tGB/s\n", size, size * (double)n / (t - t0) / 1e9);
            }
        }
    }
    fflush(stdout);
    CHECK(nixl_capi_release_xfer_req(p.init, small));
    CHECK(nixl_capi_destroy_notif_map(map));
    /* agents are left to process exit: destroying them is not what is measured */
    return 0;
}
