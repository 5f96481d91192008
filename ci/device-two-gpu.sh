#!/usr/bin/env bash
# Prefill GPU -> decode GPU on a two-GPU device machine (device tool, kind nvidia-h100-x2 or
# nvidia-h200-x2), from the repository root with .device/ carried (ci/device-pack.sh). NVLink
# multicast stays off (nothing here asks for it). Writes under $OUT: two-gpu-results.txt and the
# JUnit reports. Steps:
#   1. the GPUs and their link (nvidia-smi topo -m);
#   2. 1,000 requests of 64 blocks, context process's KV pool on GPU 0, generation side's on GPU 1,
#      contents verified (TwoProcessTransceiverTest.thousandVramRequestsFromGpu0ToGpu1ArriveIntact);
#   3. the transceiver failure-mode suite with the context pool on GPU 0 and the generation pool on GPU 1;
#   4. the bandwidth sweep 64 KiB ... 256 MiB, NIXL WRITE GPU 0 -> GPU 1 (two processes) against
#      cudaMemcpyPeer with peer access enabled (jmh/c/cuda_peer_copy.c, the NVLink limit) between the
#      same GPUs in this run; the last column is kvx's in-process cudaMemcpy without peer access (staged);
#   5. the UCX transports NIXL chose for GPU 0 -> GPU 1 (UCX_LOG_LEVEL=info on one sweep).
# Exit status: non-zero if any step failed.
set -uo pipefail
. "$(dirname "$0")/device-env.sh"
out=${OUT:-$root/device-out}; mkdir -p "$out"
res="$out/two-gpu-results.txt"
fail=0
{
  echo "== machine"; nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>&1; nproc
  echo "== topology (NV# = NVLink)"; nvidia-smi topo -m 2>&1 | head -12
} > "$res"
echo "== two processes, GPU 0 -> GPU 1, 1000 x 64 blocks" >> "$res"
"$java" "${opts[@]}" -cp "$cp$junit" org.junit.platform.console.ConsoleLauncher execute \
  --select-method dev.kvx.transceiver.TwoProcessTransceiverTest#thousandVramRequestsFromGpu0ToGpu1ArriveIntact \
  --reports-dir "$out/junit-two-gpu" --details=tree --disable-banner --disable-ansi-colors >> "$res" 2>&1 || fail=1
echo "== failure-mode suite, context pool on GPU 0, generation pool on GPU 1" >> "$res"
"$java" "${opts[@]}" -Dkvx.test.memory=vram -Dkvx.test.ctxDevice=0 -Dkvx.test.genDevice=1 -cp "$cp$junit" \
  org.junit.platform.console.ConsoleLauncher execute --select-class dev.kvx.transceiver.CacheTransceiverTest \
  --select-class dev.kvx.transceiver.DeadlineAndCancelTimingTest \
  --reports-dir "$out/junit-two-gpu-suite" --details=tree --disable-banner --disable-ansi-colors >> "$res" 2>&1 || fail=1
echo "== bandwidth sweep, NIXL WRITE GPU 0 -> GPU 1 (two processes) vs cudaMemcpyPeer with peer access (C)" >> "$res"
"$java" "${opts[@]}" -cp "$cp" dev.kvx.transceiver.TwoGpuBandwidthMain 0 1 > "$work/nixl-sweep.tsv" 2>> "$res" || fail=1
LD_LIBRARY_PATH="$work/native/cuda/lib" "$root/.device/bench/cuda_peer_copy" 0 1 > "$work/peer.tsv" 2>> "$res" || fail=1
grep "^#" "$work/peer.tsv" >> "$res"
echo -e "size\tnixl_GBps\tcudaMemcpyPeer_GBps\tnixl/peer\tpeer_copy_without_peer_access_GBps" >> "$res"
awk -F'\t' 'NR==FNR { if ($1 !~ /^#/) peer[$1]=$2; next } FNR > 1 { printf "%s\t%s\t%s\t%.3f\t%s\n", $1, $2, peer[$1], $2/peer[$1], $3 }' \
  "$work/peer.tsv" "$work/nixl-sweep.tsv" >> "$res"
echo "== UCX transports chosen (UCX_LOG_LEVEL=info)" >> "$res"
UCX_LOG_LEVEL=info "$java" "${opts[@]}" -cp "$cp" dev.kvx.transceiver.TwoGpuBandwidthMain 0 1 2>&1 \
  | grep -i -E "ucp_ep|lane|cuda_ipc|cuda_copy|tcp|intra-node|inter-node" | sort | uniq -c | sort -rn | head -20 >> "$res"
for d in junit-two-gpu junit-two-gpu-suite; do
  [[ -f "$out/$d/TEST-junit-jupiter.xml" ]] && mv "$out/$d/TEST-junit-jupiter.xml" "$out/$d.xml"; rm -rf "$out/$d"
done
echo "== exit: $fail" >> "$res"
cat "$res"
exit $fail
