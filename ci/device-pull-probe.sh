#!/usr/bin/env bash
# Runs on the GPU machine (device tool), with .device/ carried (ci/device-pack.sh): why NIXL READs of
# VRAM between two processes on one GPU are slow where WRITEs are fast (issue 15). The C program's
# push (WRITE) and pull (READ) protocols move the same requests under several UCX settings; each
# run's UCX protocol selection (UCX_PROTO_INFO=y) is kept, so the lanes that put and get chose show
# side by side. Writes $OUT/pull/probe.txt (req/s, GB/s per setting, and the lanes).
#   PROBE_SHAPE=8x2097152 (blocks x bytes)  PROBE_COUNT=60
set -uo pipefail
. "$(dirname "$0")/device-env.sh"
out=${OUT:-$root/device-out}/pull; mkdir -p "$out"
shape=${PROBE_SHAPE:-8x2097152}
count=${PROBE_COUNT:-60}
res="$out/probe.txt"
: > "$res"
probe() { # label, then env assignments
  local label=$1; shift
  local dir="$out/run-$label"; rm -rf "$dir"; mkdir -p "$dir/ucx"
  echo "== $label: $*" >> "$res"
  env "$@" UCX_PROTO_INFO=y UCX_LOG_FILE="$dir/ucx/ucx.%p.log" \
    LD_LIBRARY_PATH="$work/native/nixl/.nixl_cu13.mesonpy.libs:$work/native/cuda/lib" PYTHONUNBUFFERED=1 \
    timeout 150 python3 "$root/jmh/request_driver.py" --out "$dir" --mem vram --device 0 --java "$java" --native "$work/native" \
    --jar "$root/.device/bench/kvx-benchmarks.jar" --cbin "$root/.device/bench/request_bench" --impls c,c-pull \
    --inflight 1 --startup 0 --rounds 1 --warmup 5 --run-timeout 60 --quiet-wait 0 --shapes "$shape" --counts "$count" \
    2>&1 | grep -E "request_driver: (round|.*FAILED)" | sed 's/^request_driver: //' >> "$res"
  # RMA protocols (ucp_put/ucp_get) that involve cuda memory, each with its table, once
  cat "$dir"/ucx/ucx.*.log 2>/dev/null | sed -E 's/^(\[[^]]*\] *)+//' \
    | awk '/remote memory (read|write)/ {n = ($0 ~ /cuda/) ? 7 : 0} n-- > 0' | awk '!seen[$0]++' | head -40 >> "$res"
}
all() {
  probe default
  probe rndv-get-zcopy UCX_RNDV_SCHEME=get_zcopy
  probe rndv-put-zcopy UCX_RNDV_SCHEME=put_zcopy
  probe tls-cuda UCX_TLS=cuda_ipc,cuda_copy,self,sm
  probe no-cuda-ipc-cache UCX_CUDA_IPC_CACHE=n
  probe rndv-thresh0 UCX_RNDV_THRESH=0
  probe errmode-none KVX_UCX_PARAMS=ucx_error_handling_mode=none
  probe errmode-none-get-zcopy KVX_UCX_PARAMS=ucx_error_handling_mode=none UCX_RNDV_SCHEME=get_zcopy
  probe proto-v1 UCX_PROTO_ENABLE=n
  probe tls-cuda-tcp UCX_TLS=cuda_ipc,cuda_copy,tcp
}
# PROBES="label:VAR=value;VAR=value label2:..." runs those only (values may hold commas); default: all of the above
if [[ -n ${PROBES:-} ]]; then
  for p in $PROBES; do
    IFS=';' read -r -a kv <<< "${p#*:}"
    probe "${p%%:*}" "${kv[@]}"
  done
else
  all
fi
cat "$res"
