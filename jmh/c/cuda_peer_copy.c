/*
 * cuda_peer_copy.c — the GPU-to-GPU baseline of ci/device-two-gpu.sh: cudaMemcpyPeer from GPU
 * <src> to GPU <dst> with peer access enabled both ways (so the copy engines use NVLink directly
 * instead of staging through host memory), for the sizes of TwoGpuBandwidthMain's NIXL sweep.
 * Built by ci/device-pack.sh with gcc against the nvidia-cuda-runtime wheel in .native/cuda.
 * Output: "size<TAB>GB/s" per size. Usage: cuda_peer_copy [src dst]
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call)                                                                              \
    do {                                                                                         \
        cudaError_t e_ = (call);                                                                 \
        if (e_ != cudaSuccess) {                                                                 \
            fprintf(stderr, "cuda_peer_copy: %s: %s (%s:%d)\n", #call, cudaGetErrorString(e_), __FILE__, __LINE__); \
            exit(2);                                                                             \
        }                                                                                        \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int src = argc > 2 ? atoi(argv[1]) : 0, dst = argc > 2 ? atoi(argv[2]) : 1;
    size_t max = (size_t)256 << 20;
    int can = 0;
    CHECK(cudaDeviceCanAccessPeer(&can, src, dst));
    printf("# peer access GPU %d -> GPU %d: %s\n", src, dst, can ? "yes" : "no (copies are staged)");
    void *a, *b;
    CHECK(cudaSetDevice(src));
    if (can) {
        CHECK(cudaDeviceEnablePeerAccess(dst, 0));
    }
    CHECK(cudaMalloc(&a, max));
    CHECK(cudaMemset(a, 7, max));
    CHECK(cudaSetDevice(dst));
    if (can) {
        CHECK(cudaDeviceEnablePeerAccess(src, 0));
    }
    CHECK(cudaMalloc(&b, max));
    CHECK(cudaSetDevice(src));
    size_t sizes[] = {(size_t)64 << 10, (size_t)1 << 20, (size_t)16 << 20, (size_t)64 << 20, (size_t)256 << 20};
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        for (int i = 0; i < 3; i++) {
            CHECK(cudaMemcpyPeer(b, dst, a, src, n));
        }
        CHECK(cudaDeviceSynchronize());
        long reps = 0;
        double t0 = now_s(), t;
        do { /* synchronous per copy, like the NIXL side's post-and-wait */
            CHECK(cudaMemcpyPeer(b, dst, a, src, n));
            CHECK(cudaDeviceSynchronize());
            reps++;
        } while ((t = now_s()) - t0 < 0.5 || reps < 5);
        printf("%zu\t%.2f\n", n, n * (double)reps / (t - t0) / 1e9);
    }
    return 0;
}
