#!/usr/bin/env bash
# Runs the benchmark suite on the GPU machine (device tool), from the repository root, with .device/
# carried (ci/device-pack.sh builds the C baseline and the JMH jar into it). Writes $OUT/bench/
# (c.tsv, jmh.json, jmh-nocritical.json, engine.tsv, machine.txt); back on the development machine,
#   python3 jmh/write_benchmarks.py --results <fetched>/bench --out BENCHMARKS-H100-host.md \
#     --machine-file <fetched>/bench/machine.txt --java none --command "ci/device-bench.sh"
# turns them into the same report as jmh/run-benchmarks.sh.
#   --requests       also the request-level benchmark on the GPU (jmh/request_driver.py --mem vram): kvx, C and
#                    NIXL's Python API (torch tensors on the GPU) moving requests of a Llama-3-8B-like shape
#                    (32 layers x 8 KV heads x 128 x bf16, 16 tokens a block: 2 MiB blocks, or 64 KiB per layer
#                    and block) between two processes on GPU 0, against cudaMemcpy D2D of the same blocks in one
#                    process; write it with  python3 jmh/write_benchmarks.py --requests-only --results <fetched>/bench
#                    --out BENCHMARKS-H100-host.md --java none --command x
#   --requests-only  only that; REQUESTS_ARGS adds options of jmh/request_driver.py (e.g. "--impls kvx,c")
#   --requests-dram  only the request-level benchmark in host memory (the DRAM configurations of
#                    jmh/run-benchmarks.sh: 64 x 16 KiB and 12 x 448 KiB, 1 and 16 in flight, startup) on this
#                    machine's 16 cores, into $OUT/bench-dram; REQUESTS_ARGS as above
set -euo pipefail
calls=1
requests=0
dram=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests=1 ;;
    --requests-only) requests=1; calls=0 ;;
    --requests-dram) dram=1; calls=0 ;;
    *) echo "device-bench: unknown option $1 (--requests, --requests-only, --requests-dram)" >&2; exit 2 ;;
  esac
  shift
done
. "$(dirname "$0")/device-env.sh"
suffix=""; [[ $dram == 1 ]] && suffix=-dram
out=${OUT:-$root/device-out}/bench$suffix; mkdir -p "$out"
java=("$java" "${opts[@]}")
jar="$root/.device/bench/kvx-benchmarks.jar"
{ lscpu | grep -E "^Model name" | sed 's/Model name: *//'; nproc; uname -r; "$work/jre/bin/java" -version 2>&1 | head -1
  { nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo "no GPU"; } | head -1; } > "$out/machine.txt"
if [[ $calls == 1 ]]; then
echo "== C baseline" >&2
LD_LIBRARY_PATH="$work/native/nixl/.nixl_cu13.mesonpy.libs" KVX_BENCH_SECONDS=2 "$root/.device/bench/nixl_baseline" 64 > "$out/c.tsv"
echo "== JMH" >&2
"${java[@]}" -jar "$jar" 'dev.kvx.nixl.NixlVsCBenchmark' -wi 2 -i 3 -w 1 -r 1 -f 1 -prof gc -rf json -rff "$out/jmh.json" \
  -jvmArgsAppend -Dkvx.native.dir="$work/native" > /tmp/kvx-jmh.txt 2>&1 || { tail -40 /tmp/kvx-jmh.txt; exit 1; }
"${java[@]}" -jar "$jar" 'dev.kvx.nixl.NixlVsCBenchmark.(statusPollNative|notificationDrain|breakdownBareDowncall)' \
  -wi 2 -i 3 -w 1 -r 1 -f 1 -jvmArgsAppend "-Dkvx.nixl.criticalCalls=false -Dkvx.native.dir=$work/native" \
  -rf json -rff "$out/jmh-nocritical.json" >> /tmp/kvx-jmh.txt 2>&1 || { tail -40 /tmp/kvx-jmh.txt; exit 1; }
echo "== engine harness" >&2
"${java[@]}" -cp "$jar" dev.kvx.bench.EngineHarness 2 > "$out/engine.tsv"
cat "$out/c.tsv" "$out/engine.tsv"
fi

if [[ $requests == 1 ]]; then
  if ! nvidia-smi -L >/dev/null 2>&1 || ! "$root/.device/bench/cuda_block_copy" block_bytes=4096 pool_blocks=1 plan=p:1:1:0:1 \
       dir=/tmp </dev/null >/dev/null 2>&1; then
    echo "device-bench: no usable GPU here: the request-level GPU benchmark is skipped" >&2
    exit 0
  fi
  echo "== whole requests on the GPU (two processes on GPU 0)" >&2
  mib=$((1 << 20)); kib=1024
  # shellcheck disable=SC2086 # REQUESTS_ARGS is a list of options
  LD_LIBRARY_PATH="$work/native/nixl/.nixl_cu13.mesonpy.libs:$work/native/cuda/lib" PYTHONUNBUFFERED=1 \
  python3 "$root/jmh/request_driver.py" --out "$out" --mem vram --device 0 --java "$java" --native "$work/native" \
    --jar "$root/.device/bench/kvx-benchmarks.jar" --cbin "$root/.device/bench/request_bench" \
    --d2dbin "$root/.device/bench/cuda_block_copy" --pypath "$work/native/nixl" --impls kvx,c,python,cuda-d2d \
    --inflight 1,4 --startup 0 --rounds 1 --run-timeout 120 \
    --shapes "1x$((2 * mib)),8x$((2 * mib)),32x$((2 * mib)),128x$((2 * mib)),32x$((64 * kib)),256x$((64 * kib)),1024x$((64 * kib)),4096x$((64 * kib))" \
    --counts "1000:2000,400:800,150:300,50:100,1000:2000,400:800,150:300,50:100" ${REQUESTS_ARGS:-}
  cat "$out/requests-settings.txt"
fi

if [[ $dram == 1 ]]; then
  echo "== whole requests in host memory (two processes)" >&2
  # shellcheck disable=SC2086 # REQUESTS_ARGS is a list of options
  LD_LIBRARY_PATH="$work/native/nixl/.nixl_cu13.mesonpy.libs" PYTHONUNBUFFERED=1 \
  python3 "$root/jmh/request_driver.py" --out "$out" --mem dram --java "$java" --native "$work/native" \
    --jar "$root/.device/bench/kvx-benchmarks.jar" --cbin "$root/.device/bench/request_bench" --pypath "$work/native/nixl" \
    --rounds 1 --run-timeout 120 ${REQUESTS_ARGS:-}
  cat "$out/requests-settings.txt"
fi
