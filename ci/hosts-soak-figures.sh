#!/usr/bin/env bash
# The soak's throughput across network-namespace hosts next to loopback (root only): the same load
# (kvx soak defaults: warm-up 5 s, burst 25 s at concurrency 16, 4 staging slots, 448 KiB blocks, no
# injected faults) between one context and one generation worker on loopback (UCX defaults, then
# UCX_TLS=tcp), across two namespace hosts (UCX_TLS=tcp), and with 2 prefill x 2 decode workers over
# three hosts. Prints a Markdown section on stdout (the burst phase's figures from each report.json).
# Needs what ./kvx soak --hosts needs (root, iproute2, etcd: ci/provision-etcd.sh). About 4 minutes per rep.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[[ $(id -u) -eq 0 ]] || { echo "kvx: hosts-soak-figures needs root (network namespaces)" >&2; exit 1; }
KVX_ETCD=$(ci/provision-etcd.sh); export KVX_ETCD
reps=${REPS:-1}
work=$(mktemp -d /tmp/kvx-hosts-soak-figures.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

run() { # run TAG ENV... -- ARGS...
  local tag=$1; shift; local envs=(); while [[ $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" ./kvx soak --faults none --report "$work/$tag" "$@" > "$work/$tag.log" 2>&1 \
    || { echo "soak $tag failed:" >&2; tail -20 "$work/$tag.log" >&2; }
}
row() { # row TAG LABEL
  python3 - "$work/$1/report.json" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
b = next(p for p in d["phases"] if p["phase"] == "BURST")
lanes = ""
if d.get("hosts"):
    ls = [l for l in next(iter(d["hosts"]["ucxLanes"].values())) if l.startswith("KV data")]
    lanes = ls[0].split(": ", 1)[1] if ls else ""
total = sum(b["outcomes"].values())
print(f"| {sys.argv[2]} | {lanes or 'see below'} | {b['outcomes']['COMPLETED']}/{total} | {b['requestsPerSecond']:.1f} | "
      f"{b['gigabytesPerSecond']:.3f} | {b['latencyMs']['p50']:.1f} | {b['latencyMs']['p99']:.1f} | {'OK' if d['ok'] else 'FAILED'} |")
EOF
}

echo "## The soak across namespaces next to loopback"
echo
echo "Written by \`ci/hosts-soak-figures.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) CPUs, Linux $(uname -r), load"
echo "average $(cut -d' ' -f1 /proc/loadavg) at the start (a shared machine: other jobs ran too). The same load for every row:"
echo "\`kvx soak\` defaults (burst 25 s at concurrency 16, 4 staging slots per worker, 448 KiB blocks, ~12 blocks per"
echo "request) with \`--faults none\` and no cross-host fault. Burst phase, from each run's report.json; $reps run(s) each."
echo
echo "| run | KV data (UCX, remote writes) | completed/requests | req/s | GB/s | p50 ms | p99 ms | invariants |"
echo "|---|---|---|---|---|---|---|---|"
for r in $(seq "$reps"); do
  run "lo-$r" --
  row "lo-$r" "loopback, 1 context + 1 generation, UCX defaults"
  run "lotcp-$r" UCX_TLS=tcp --
  row "lotcp-$r" "loopback, 1 + 1, UCX_TLS=tcp"
  run "ns11-$r" -- --hosts 2 --prefill 1 --decode 1 --cut-link none
  row "ns11-$r" "2 namespace hosts, 1 prefill + 1 decode, UCX_TLS=tcp"
  run "ns22-$r" -- --hosts 3 --cut-link none
  row "ns22-$r" "3 namespace hosts, 2 prefill x 2 decode, UCX_TLS=tcp"
done
echo
echo "On loopback UCX moves the blocks with cross-memory attach (\`am(tcp/lo cma/memory)\`, put \`zero-copy cma/memory\`;"
echo "README, \"UCX transports\") or, with \`UCX_TLS=tcp\`, over \`tcp/lo\`; across namespaces only TCP over the bridge can carry them."
