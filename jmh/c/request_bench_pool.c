/* request_bench_pool.c — the block pools of jmh/c/request_bench.c: DRAM or VRAM (the CUDA runtime is
   loaded at run time, only for mem=vram), their FIFO free lists, the block contents and their
   verification on the decode side. See request_bench_common.h. */
#define _GNU_SOURCE
#include "request_bench_common.h"

#include <dlfcn.h>
#include <errno.h>
#include <sys/mman.h>

/* ------------------------------------------------------------------ CUDA runtime, loaded only for mem=vram */
static struct {
    int (*set_device)(int);
    int (*malloc_)(void **, size_t);
    int (*memcpy_)(void *, const void *, size_t, int);
    int (*memset_)(void *, int, size_t);
    int (*sync)(void);
    const char *(*error)(int);
} cu;
enum { H2D = 1, D2H = 2 };

static void cu_check(int rc, const char *what) {
    if (rc) {
        die("%s: %s", what, cu.error(rc));
    }
}

static void cuda_load(void) {
    void *h = dlopen("libcudart.so.13", RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        die("mem=vram needs libcudart.so.13 on the library path: %s", dlerror());
    }
    cu.set_device = (int (*)(int))dlsym(h, "cudaSetDevice");
    cu.malloc_ = (int (*)(void **, size_t))dlsym(h, "cudaMalloc");
    cu.memcpy_ = (int (*)(void *, const void *, size_t, int))dlsym(h, "cudaMemcpy");
    cu.memset_ = (int (*)(void *, int, size_t))dlsym(h, "cudaMemset");
    cu.sync = (int (*)(void))dlsym(h, "cudaDeviceSynchronize");
    cu.error = (const char *(*)(int))dlsym(h, "cudaGetErrorString");
    if (!cu.set_device || !cu.malloc_ || !cu.memcpy_ || !cu.memset_ || !cu.sync || !cu.error) {
        die("libcudart.so.13 lacks a symbol this program needs");
    }
    cu_check(cu.set_device(C.device), "cudaSetDevice");
}

/* ------------------------------------------------------------------ pool, contents, verification */
/* Block layout: header {magic, source block, body sum, magic^block^sum} (4 words), then the body. */
#define MAGIC 0x48434e4542584b56ULL /* "VKXBENCH" */

static void fill_block(uint64_t *w, size_t words, uint64_t b) {
    uint64_t sum = 0;
    for (size_t i = 4; i < words; i++) {
        w[i] = b * 0x9E3779B97F4A7C15ULL + i * 0xD1B54A32D192ED03ULL;
        sum += w[i];
    }
    w[0] = MAGIC;
    w[1] = b;
    w[2] = sum;
    w[3] = MAGIC ^ b ^ sum;
}

void pool_open(pool_t *p, int fill) {
    size_t size = C.bb * (size_t)C.pool_blocks;
    p->vram = C.vram;
    p->nblocks = C.pool_blocks;
    if (p->vram) {
        cuda_load();
        void *d;
        cu_check(cu.malloc_(&d, size), "cudaMalloc");
        cu_check(cu.memset_(d, 0, size), "cudaMemset");
        p->base = (uintptr_t)d;
        p->host = NULL;
        if (fill) {
            uint64_t *w = malloc(C.bb);
            for (int b = 0; b < p->nblocks; b++) {
                fill_block(w, C.bb / 8, b);
                cu_check(cu.memcpy_((void *)(uintptr_t)(p->base + b * C.bb), w, C.bb, H2D), "cudaMemcpy");
            }
            free(w);
        }
    } else {
        if (posix_memalign((void **)&p->host, 2u << 20, size)) {
            die("out of memory for a pool of %zu B", size);
        }
        /* numpy asks for transparent huge pages on its large arrays; kvx's HostBuffer does not: hugepages=
           says which all three use (the driver passes the same value to C and Python) */
        if (madvise(p->host, size, C.hugepages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
            die("madvise: %s", strerror(errno));
        }
        memset(p->host, 0, size);
        p->base = (uintptr_t)p->host;
        for (int b = 0; fill && b < p->nblocks; b++) {
            fill_block((uint64_t *)(p->host + b * C.bb), C.bb / 8, b);
        }
    }
    nixl_capi_reg_dlist_t d;
    CHECK(nixl_capi_create_reg_dlist(p->vram ? NIXL_CAPI_MEM_VRAM : NIXL_CAPI_MEM_DRAM, &d));
    CHECK(nixl_capi_reg_dlist_add_desc(d, p->base, size, p->vram ? C.device : 0, NULL, 0));
    CHECK(nixl_capi_register_mem(agent, d, NULL));
    CHECK(nixl_capi_destroy_reg_dlist(d));
    /* free list: a seeded shuffle, then FIFO, so that requests get scattered blocks (one descriptor each) */
    p->ring = malloc(p->nblocks * sizeof(int));
    for (int i = 0; i < p->nblocks; i++) {
        p->ring[i] = i;
    }
    uint64_t x = C.seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = p->nblocks - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int j = (int)(x % (uint64_t)(i + 1)), t = p->ring[i];
        p->ring[i] = p->ring[j];
        p->ring[j] = t;
    }
    p->head = 0;
    p->count = p->nblocks;
}

int pool_free(const pool_t *p) {
    return p->count;
}

void pool_alloc(pool_t *p, int *ids, int n) {
    if (p->count < n) {
        die("pool has %d free blocks, a request needs %d", p->count, n);
    }
    for (int i = 0; i < n; i++) {
        ids[i] = p->ring[p->head];
        p->head = (p->head + 1) % p->nblocks;
    }
    p->count -= n;
}

void pool_release(pool_t *p, const int *ids, int n) {
    for (int i = 0; i < n; i++) {
        p->ring[(p->head + p->count + i) % p->nblocks] = ids[i];
    }
    p->count += n;
}

static int sampled(int64_t id) {
    return id % C.verify_every == 0;
}

/* Before a request is submitted: its blocks' headers are zeroed (DRAM: all; VRAM: the sampled block). */
void clear_headers(pool_t *p, int64_t id, const int *ids, int n) {
    if (!p->vram) {
        for (int i = 0; i < n; i++) {
            memset(p->host + ids[i] * C.bb, 0, 32);
        }
    } else if (sampled(id)) {
        cu_check(cu.memset_((void *)(uintptr_t)(p->base + ids[(id / C.verify_every) % n] * C.bb), 0, 32), "cudaMemset");
        cu_check(cu.sync(), "cudaDeviceSynchronize"); /* zeroed before the peer's copy can land */
    }
}

static int verify_words(const uint64_t *w, int body) {
    if (w[0] != MAGIC || w[3] != (w[0] ^ w[1] ^ w[2])) {
        return 0;
    }
    if (body) {
        uint64_t sum = 0;
        for (size_t i = 4; i < C.bb / 8; i++) {
            sum += w[i];
        }
        return sum == w[2];
    }
    return 1;
}

/* After completion: every header (DRAM), and one whole block of every verify_every-th request. */
void verify(pool_t *p, int64_t id, const int *ids, int n) {
    int pick = (int)((id / C.verify_every) % n);
    if (!p->vram) {
        for (int i = 0; i < n; i++) {
            if (!verify_words((const uint64_t *)(p->host + ids[i] * C.bb), sampled(id) && i == pick)) {
                die("request %ld: block %d (pool block %d) did not arrive intact", (long)id, i, ids[i]);
            }
        }
    } else if (sampled(id)) {
        static uint64_t *w;
        w = w ? w : malloc(C.bb);
        cu_check(cu.memcpy_(w, (void *)(uintptr_t)(p->base + ids[pick] * C.bb), C.bb, D2H), "cudaMemcpy");
        if (!verify_words(w, 1)) {
            die("request %ld: block %d (pool block %d) did not arrive intact", (long)id, pick, ids[pick]);
        }
    }
}
