#!/usr/bin/env bash
# The benchmark suite in one command: builds kvx and the C programs (jmh/c/, with gcc against
# .native/'s libnixl_capi.so), runs the C baseline, the JMH benchmarks, the engine harness and the
# request-level benchmark (jmh/request_driver.py: kvx, C and NIXL's Python API doing the same protocol
# between two processes) in this one invocation, and writes BENCHMARKS.md with every figure, its
# baseline from this run and the ratio. Defaults fit a 2-core machine in about 7 minutes; --long
# measures the per-call part 5x longer.
#   jmh/run-benchmarks.sh [--long] [--out FILE] [--requests-only | --skip-requests | --mac-only] [--requests-args "ARGS"]
# --requests-only runs only the request-level part and replaces only its section of FILE; --mac-only runs
# only MacBenchmark (JMH) and a kvx-only 64 x 16 KiB request run, and replaces only the MAC section;
# --requests-args passes options to jmh/request_driver.py (e.g. "--hugepages 1", "--impls kvx,c").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
long=0
out="$root/BENCHMARKS.md"
requests=1
calls=1
mac_only=0
req_args=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --long) long=1 ;;
    --out) out=$(realpath -m "$2"); shift ;;
    --requests-only) calls=0 ;;
    --skip-requests) requests=0 ;;
    --mac-only) mac_only=1 ;;
    --requests-args) req_args=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run-benchmarks: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
command -v gcc >/dev/null || { echo "run-benchmarks: gcc is needed for the C baseline (apt-get install gcc)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "run-benchmarks: python3 is needed to write the report" >&2; exit 1; }
JAVA_HOME=$("$root/ci/find-jdk.sh"); export JAVA_HOME
"$root/ci/provision-native.sh"
export NIXL_LOG_LEVEL=${NIXL_LOG_LEVEL:-ERROR}
res="$root/jmh/target/bench"
mkdir -p "$res"
echo "== build (maven, gcc)" >&2
(cd "$root" && mvn -B -q -ntp install -DskipTests -pl bindings,java-api,jmh -am >&2)
native=${KVX_NATIVE_DIR:-$root/.native}
libdir="$native/nixl/.nixl_cu13.mesonpy.libs"
gcc -O2 -Wall -Wextra -I "$root/native-headers" -o "$res/nixl_baseline" "$root/jmh/c/nixl_baseline.c" \
  -L"$libdir" -l:libnixl_capi.so -Wl,-rpath,"$libdir"
gcc -O2 -Wall -Wextra -I "$root/native-headers" -o "$res/request_bench" "$root/jmh/c/request_bench.c" \
  "$root/jmh/c/request_bench_common.c" "$root/jmh/c/request_bench_pool.c" -L"$libdir" -l:libnixl_capi.so -Wl,-rpath,"$libdir" -lpthread -ldl

if [[ $long == 1 ]]; then secs=10; wi=5; i=10; else secs=2; wi=2; i=3; fi
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dkvx.native.dir="$native")
jar="$root/jmh/target/kvx-benchmarks.jar"

mac_jmh() {
  echo "== JMH: what the MAC costs per message (MacBenchmark)" >&2
  # many short iterations: on a shared machine some of them run undisturbed (mac_report.py shows the fastest and the mean)
  "${java[@]}" -jar "$jar" 'dev.kvx.transceiver.internal.wire.MacBenchmark' -wi 2 -w 1 -i $((i * 8)) -r 200ms -f 1 -rf json -rff "$res/mac.json" >&2
}
if [[ $mac_only == 1 ]]; then
  mac_jmh
  echo "== the request it protects: kvx, 64 x 16 KiB, 1 in flight (jmh/request_driver.py)" >&2
  rm -rf "$res/mac-requests"
  python3 "$root/jmh/request_driver.py" --out "$res/mac-requests" --java "$JAVA_HOME/bin/java" --jar "$jar" --native "$native" \
    --cbin "$res/request_bench" --impls kvx --shapes 64x16384 --inflight 1 --counts 2000 --startup 0 --rounds 1
  python3 "$root/jmh/write_benchmarks.py" --results "$res" --out "$out" --java "$JAVA_HOME/bin/java" --command x --mac-only \
    --mac-requests "$res/mac-requests"
  echo "run-benchmarks: replaced the MAC section of $out" >&2
  exit 0
fi


echo "== NIXL's Python API (nixl-cu13 and numpy wheels, unpacked into jmh/target/bench/py)" >&2
nixl_version=$(sed -n 's/^NIXL_VERSION=//p' "$root/ci/provision-native.sh")
py="$res/py"
if [[ ! -d "$py/nixl_cu13" ]]; then
  rm -rf "$py" "$res/py-wheels"
  if python3 -m pip download --no-deps -q "nixl-cu13==$nixl_version" "numpy==2.2.6" -d "$res/py-wheels" >&2; then
    mkdir -p "$py"; for w in "$res"/py-wheels/*.whl; do unzip -q -o "$w" -d "$py"; done
  fi
fi
[[ -d "$py/nixl_cu13" ]] || echo "run-benchmarks: NIXL's Python API could not be unpacked here (no wheel for $(python3 --version 2>&1)?); its rows stay empty" >&2

if [[ $calls == 1 ]]; then
echo "== C baseline (${secs} s per figure)" >&2
KVX_BENCH_SECONDS=$secs "$res/nixl_baseline" 64 > "$res/c.tsv"
cat "$res/c.tsv" >&2

echo "== NIXL's Python API, per call" >&2
if [[ -d "$py/nixl_cu13" ]] && KVX_BENCH_SECONDS=$secs PYTHONPATH="$py" python3 "$root/jmh/python/nixl_python_baseline.py" > "$res/py.tsv"; then
  cat "$res/py.tsv" >&2
else
  : > "$res/py.tsv"
fi

echo "== JMH: NIXL through kvx, with the gc profiler" >&2
"${java[@]}" -jar "$jar" 'dev.kvx.nixl.NixlVsCBenchmark' -wi $wi -i $i -w 1 -r 1 -f 1 -prof gc \
  -rf json -rff "$res/jmh.json" >&2
echo "== JMH: the polling calls without Linker.Option.critical (before/after)" >&2
"${java[@]}" -jar "$jar" 'dev.kvx.nixl.NixlVsCBenchmark.(statusPollNative|notificationDrain|breakdownBareDowncall)' \
  -wi $wi -i $i -w 1 -r 1 -f 1 -jvmArgsAppend -Dkvx.nixl.criticalCalls=false -rf json -rff "$res/jmh-nocritical.json" >&2

mac_jmh

echo "== engine harness" >&2
"${java[@]}" -cp "$jar" dev.kvx.bench.EngineHarness "$secs" > "$res/engine.tsv"
cat "$res/engine.tsv" >&2
fi

if [[ $requests == 1 ]]; then
  echo "== whole requests: kvx, C and NIXL's Python API between two processes (jmh/request_driver.py)" >&2
  rm -f "$res/requests.tsv"
  # shellcheck disable=SC2086 # --requests-args is a list of options
  python3 "$root/jmh/request_driver.py" --out "$res" --java "$JAVA_HOME/bin/java" --jar "$jar" --native "$native" \
    --cbin "$res/request_bench" --pypath "$py" $req_args
else
  rm -f "$res/requests.tsv"
fi

if [[ $calls == 0 ]]; then
  python3 "$root/jmh/write_benchmarks.py" --results "$res" --out "$out" --java "$JAVA_HOME/bin/java" --command x --requests-only
  echo "run-benchmarks: replaced the whole-requests section of $out" >&2
  exit 0
fi
python3 "$root/jmh/write_benchmarks.py" --results "$res" --out "$out" --java "$JAVA_HOME/bin/java" \
  --command "jmh/run-benchmarks.sh$([[ $long == 1 ]] && echo ' --long')" \
  --see-also "The same suite on the GPU machine's host (16-32 Xeon cores), run by \`ci/device-bench.sh\`: [BENCHMARKS-H100-host.md](BENCHMARKS-H100-host.md)."
echo "run-benchmarks: wrote $out" >&2
