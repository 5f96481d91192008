/*
 * cuda_block_copy.c — the one-process baseline of the GPU request-level benchmark: each request
 * copies its blocks from a source pool to a destination pool on the same GPU with cudaMemcpyAsync
 * (device to device), block by block, on one stream per request in flight, and completes when its
 * stream's event has passed. Blocks come from seeded-shuffle FIFO free lists, as in the two-process
 * programs, so a request's blocks are scattered. jmh/request_driver.py runs it as implementation
 * "cuda-d2d" with the two-process programs' key=value arguments (role, peer, mem are ignored):
 *   name=N dir=D block_bytes=B pool_blocks=P plan=label:inflight:blocks:warmup:measured,... device=0 seed=1
 * Output: the "RB<TAB>..." lines of the decode processes. Built by ci/device-pack.sh against the
 * CUDA runtime in .native/cuda.
 */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CK(call)                                                                                 \
    do {                                                                                         \
        cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "cuda_block_copy: %s: %s (%s:%d)\n", #call, cudaGetErrorString(e_), __FILE__, __LINE__); \
            exit(2);                                                                             \
        }                                                                                        \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

typedef struct {
    int *ring, head, count, n;
} ring_t;

static void ring_open(ring_t *r, int n, unsigned seed) {
    r->ring = malloc(n * sizeof(int));
    r->n = r->count = n;
    r->head = 0;
    for (int i = 0; i < n; i++) {
        r->ring[i] = i;
    }
    unsigned long long x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = n - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int j = (int)(x % (unsigned long long)(i + 1)), t = r->ring[i];
        r->ring[i] = r->ring[j];
        r->ring[j] = t;
    }
}

static void ring_take(ring_t *r, int *ids, int k) {
    for (int i = 0; i < k; i++) {
        ids[i] = r->ring[r->head];
        r->head = (r->head + 1) % r->n;
    }
    r->count -= k;
}

static void ring_put(ring_t *r, const int *ids, int k) {
    for (int i = 0; i < k; i++) {
        r->ring[(r->head + r->count + i) % r->n] = ids[i];
    }
    r->count += k;
}

static void await_driver(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) {
        clearerr(stdin);
    }
}

int main(int argc, char **argv) {
    const char *name = "d2d", *dir = ".";
    char plan[4096] = "";
    size_t bb = 0;
    int pool = 0, device = 0;
    unsigned seed = 1;
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "cuda_block_copy: argument '%s' is not key=value\n", argv[i]);
            return 2;
        }
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "name")) name = v;
        else if (!strcmp(k, "dir")) dir = v;
        else if (!strcmp(k, "block_bytes")) bb = strtoull(v, NULL, 10);
        else if (!strcmp(k, "pool_blocks")) pool = atoi(v);
        else if (!strcmp(k, "plan")) snprintf(plan, sizeof plan, "%s", v);
        else if (!strcmp(k, "device")) device = atoi(v);
        else if (!strcmp(k, "seed")) seed = (unsigned)atol(v);
    }
    if (!bb || pool < 1 || !plan[0]) {
        fprintf(stderr, "cuda_block_copy: needs block_bytes=, pool_blocks=, plan=\n");
        return 2;
    }
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices <= device) {
        fprintf(stderr, "cuda_block_copy: no CUDA device %d here\n", device);
        return 3;
    }
    CK(cudaSetDevice(device));
    char *src, *dst;
    CK(cudaMalloc((void **)&src, bb * pool));
    CK(cudaMalloc((void **)&dst, bb * pool));
    CK(cudaMemset(src, 7, bb * pool));
    CK(cudaMemset(dst, 0, bb * pool));
    ring_t rs, rd;
    ring_open(&rs, pool, seed + 1);
    ring_open(&rd, pool, seed);
    char *save = NULL;
    for (char *ph = strtok_r(plan, ",", &save); ph; ph = strtok_r(NULL, ",", &save)) {
        char label[32];
        int inflight, blocks, warmup, measured;
        if (sscanf(ph, "%31[^:]:%d:%d:%d:%d", label, &inflight, &blocks, &warmup, &measured) != 5 || inflight > 64
            || blocks * inflight > pool) {
            fprintf(stderr, "cuda_block_copy: bad phase '%s'\n", ph);
            return 2;
        }
        cudaStream_t st[64];
        cudaEvent_t ev[64];
        int *sb[64], *db[64], busy[64] = {0};
        double t_sub[64];
        for (int s = 0; s < inflight; s++) {
            CK(cudaStreamCreateWithFlags(&st[s], cudaStreamNonBlocking));
            CK(cudaEventCreateWithFlags(&ev[s], cudaEventDisableTiming));
            sb[s] = malloc(blocks * sizeof(int));
            db[s] = malloc(blocks * sizeof(int));
        }
        double *lat = malloc(measured * sizeof(double)), t0 = 0, last = 0;
        long nlat = 0, cpu0 = 0, submitted = 0, done = 0, total = warmup + measured;
        while (done < total) {
            for (int s = 0; s < inflight && submitted < total; s++) {
                if (busy[s]) {
                    continue;
                }
                if (submitted == warmup) {
                    printf("RB\tMARK\t%s\tbegin\n", label);
                    fflush(stdout);
                    await_driver();
                    t0 = now_s();
                    cpu0 = cpu_ns();
                }
                ring_take(&rs, sb[s], blocks);
                ring_take(&rd, db[s], blocks);
                t_sub[s] = now_s();
                for (int b = 0; b < blocks; b++) {
                    CK(cudaMemcpyAsync(dst + db[s][b] * bb, src + sb[s][b] * bb, bb, cudaMemcpyDeviceToDevice, st[s]));
                }
                CK(cudaEventRecord(ev[s], st[s]));
                busy[s] = 1 + (submitted++ >= warmup);
            }
            for (int s = 0; s < inflight; s++) {
                if (!busy[s]) {
                    continue;
                }
                cudaError_t q = cudaEventQuery(ev[s]);
                if (q == cudaErrorNotReady) {
                    continue;
                }
                CK(q);
                double t = now_s();
                if (busy[s] == 2) {
                    lat[nlat++] = t - t_sub[s];
                    last = t;
                }
                ring_put(&rs, sb[s], blocks);
                ring_put(&rd, db[s], blocks);
                busy[s] = 0;
                done++;
            }
        }
        long cpu = cpu_ns() - cpu0;
        printf("RB\tMARK\t%s\tend\n", label);
        fflush(stdout);
        await_driver();
        char path[4096];
        snprintf(path, sizeof path, "%s/lat-%s-%s.txt", dir, name, label);
        FILE *f = fopen(path, "w");
        for (long i = 0; f && i < nlat; i++) {
            fprintf(f, "%.0f\n", lat[i] * 1e9);
        }
        if (!f || fclose(f)) {
            fprintf(stderr, "cuda_block_copy: cannot write %s\n", path);
            return 2;
        }
        printf("RB\tRESULT\t%s\trequests\t%ld\nRB\tRESULT\t%s\tseconds\t%.6f\nRB\tRESULT\t%s\tcpu_ns\t%ld\n"
               "RB\tRESULT\t%s\tlatency_file\t%s\n", label, nlat, label, last - t0, label, cpu, label, path);
        fflush(stdout);
        for (int s = 0; s < inflight; s++) {
            CK(cudaStreamDestroy(st[s]));
            CK(cudaEventDestroy(ev[s]));
            free(sb[s]);
            free(db[s]);
        }
        free(lat);
    }
    return 0;
}
