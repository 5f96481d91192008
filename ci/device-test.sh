#!/usr/bin/env bash
# Runs on the GPU machine (device tool), from the repository root, with .device/ carried
# (made by ci/device-pack.sh). Writes results under $OUT: device-results.txt (summary, doctor, demos)
# and junit.xml. Exit status: the JUnit run's.
set -uo pipefail
. "$(dirname "$0")/device-env.sh"
out=${OUT:-$root/device-out}; mkdir -p "$out"
res="$out/device-results.txt"
{
  echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  nvidia-smi 2>&1 | grep -o "CUDA Version: [0-9.]*"; uname -r; nproc
  echo "== kvx doctor"; "$java" "${opts[@]}" -cp "$cp" dev.kvx.cli.Main doctor 2>&1
  echo "== kvx demo (DRAM, 64 MiB)"; "$java" "${opts[@]}" -cp "$cp" dev.kvx.cli.Main demo 2>&1
  for s in 4MiB 64MiB 256MiB; do
    echo "== kvx demo --memory vram --size $s"; "$java" "${opts[@]}" -cp "$cp" dev.kvx.cli.Main demo --memory vram --size $s --iterations 10 2>&1
  done
  echo "== two processes on GPU 0: NIXL WRITE (cuda_ipc) vs in-process cudaMemcpy D2D (third column), GB/s"
  "$java" "${opts[@]}" -cp "$cp" dev.kvx.transceiver.TwoGpuBandwidthMain 0 0 2>&1
  echo "== UCX transports (UCX_LOG_LEVEL=info, VRAM demo 4 MiB)"
  UCX_LOG_LEVEL=info "$java" "${opts[@]}" -cp "$cp" dev.kvx.cli.Main demo --memory vram --size 4MiB --iterations 1 2>&1 | grep -i -E "transport|ucp_context|intra-node|cuda" | head -20
} > "$res" 2>&1
echo "== JUnit (all java-api tests, gpu tag included)" >> "$res"
# A flat class path (not the launcher's --class-path) so the two-process test can start its child JVM.
"$java" "${opts[@]}" -cp "$cp$junit" org.junit.platform.console.ConsoleLauncher execute \
  --scan-class-path "$root/.device/lib/kvx-api-tests.jar" --reports-dir "$out/junit" \
  --details=tree --disable-banner --disable-ansi-colors >> "$res" 2>&1
rc=$?
echo "== the transceiver failure-mode suite again, every KV pool in GPU memory (-Dkvx.test.memory=vram)" >> "$res"
"$java" "${opts[@]}" -Dkvx.test.memory=vram -cp "$cp$junit" org.junit.platform.console.ConsoleLauncher execute \
  --select-class dev.kvx.transceiver.CacheTransceiverTest --select-class dev.kvx.transceiver.DeadlineAndCancelTimingTest \
  --reports-dir "$out/junit-vram" --details=tree --disable-banner --disable-ansi-colors >> "$res" 2>&1
rc2=$?
[[ -f "$out/junit-vram/TEST-junit-jupiter.xml" ]] && mv "$out/junit-vram/TEST-junit-jupiter.xml" "$out/junit-vram.xml"
rm -rf "$out/junit-vram"
[[ $rc -eq 0 ]] && rc=$rc2
echo "== UCX lanes of the two-process VRAM run (generation side)" >> "$res"
UCX_LOG_LEVEL=info "$java" "${opts[@]}" -cp "$cp$junit" org.junit.platform.console.ConsoleLauncher execute \
  --select-method dev.kvx.transceiver.TwoProcessTransceiverTest#thousandVramRequestsBetweenTwoProcessesOnOneGpuArriveIntact \
  --details=none --disable-banner --disable-ansi-colors 2>&1 | grep -E "intra-node|two-process|tests (successful|failed)" | sed 's/^\[[0-9.]*\] \[[^]]*\] *//' | head -12 >> "$res"
echo "== revocation with VRAM in two processes (cuda_ipc): does a WRITE land after the target deregistered / invalidated the writer; what the target sees after the writer is SIGKILLed (RevocationVramMain)" >> "$res"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c "^GPU")
for mem in vram:0 $([[ $gpus -ge 2 ]] && echo vram:0,vram:1); do
  for params in "" ucx_error_handling_mode=none; do
    UCX_LOG_LEVEL=info UCX_PROTO_INFO=y timeout 300 "$java" "${opts[@]}" -cp "$cp" dev.kvx.nixl.RevocationVramMain $mem $params 2>&1 \
      | grep -E "^REVOCATION|Exception|Error" | head -20 >> "$res"
  done
done
[[ -f "$out/junit/TEST-junit-jupiter.xml" ]] && mv "$out/junit/TEST-junit-jupiter.xml" "$out/junit.xml"
rm -rf "$out/junit"
echo "== junit exit status $rc" >> "$res"
cat "$res"
exit $rc
