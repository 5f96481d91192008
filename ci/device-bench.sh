#!/usr/bin/env bash
# Runs the benchmark suite on the GPU machine (device tool), from the repository root, with .device/
# carried (ci/device-pack.sh builds the C baseline and the JMH jar into it). Writes $OUT/bench/
# (c.tsv, jmh.json, jmh-nocritical.json, engine.tsv, machine.txt); back on the development machine,
#   python3 jmh/write_benchmarks.py --results <fetched>/bench --out BENCHMARKS-H100-host.md \
#     --machine-file <fetched>/bench/machine.txt --java none --command "ci/device-bench.sh"
# turns them into the same report as jmh/run-benchmarks.sh.
set -euo pipefail
. "$(dirname "$0")/device-env.sh"
out=${OUT:-$root/device-out}/bench; mkdir -p "$out"
java=("$java" "${opts[@]}")
jar="$root/.device/bench/kvx-benchmarks.jar"
{ lscpu | grep -E "^Model name" | sed 's/Model name: *//'; nproc; uname -r; "$work/jre/bin/java" -version 2>&1 | head -1
  { nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo "no GPU"; } | head -1; } > "$out/machine.txt"
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
