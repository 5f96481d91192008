#!/usr/bin/env bash
# Measures NIXL between network-namespace "hosts" (root only): UCX lanes, WRITE GB/s across two
# namespaces vs inside one (UCX defaults vs UCX_TLS=tcp), a 2 s link cut in a WRITE stream, and
# 5 % loss (and 20 ms delay where the kernel has tc netem). Prints a Markdown report on stdout.
# Needs: a build (mvn install -DskipTests; this script compiles the cli test classes), etcd
# (ci/provision-etcd.sh), iproute2, nftables for loss without netem. Takes about 3 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
JAVA_HOME=$(ci/find-jdk.sh); export JAVA_HOME
[[ $(id -u) -eq 0 ]] || { echo "kvx: hosts-figures needs root (network namespaces)" >&2; exit 1; }
etcd_bin=$(ci/provision-etcd.sh); export KVX_ETCD=$etcd_bin
native=${KVX_NATIVE_DIR:-$root/.native}
(mvn -B -q -ntp test-compile -pl cli >&2)
cp="$root/cli/target/test-classes:$root/cli/target/classes:$(ls "$root"/cli/target/lib/*.jar | tr '\n' ':')"
java=("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dkvx.native.dir="$native" -cp "$cp")
work=$(mktemp -d /tmp/kvx-hosts-figures.XXXXXX)
reps=${REPS:-3}

cleanup() {
  touch "$work/stop"
  [[ -n "${lab:-}" ]] && wait "$lab" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
"${java[@]}" dev.kvx.cli.hosts.HostsLab "$work/env" "$work/stop" 2> "$work/lab.log" &
lab=$!
for _ in $(seq 120); do [[ -f "$work/env" ]] && break; sleep 0.5; done
[[ -f "$work/env" ]] || { cat "$work/lab.log" >&2; exit 1; }
. "$work/env"

probe() { # probe NS ENV... -- XferProbe args
  local ns=$1; shift; local envs=(); while [[ $1 != -- ]]; do envs+=("$1"); shift; done; shift
  ip netns exec "$ns" env NIXL_ETCD_ENDPOINTS="$EP" NIXL_ETCD_NAMESPACE=/kvx/figures NIXL_LOG_LEVEL=ERROR \
    UCX_LOG_FILE="$work/ucx-%p.log" "${envs[@]}" "${java[@]}" dev.kvx.cli.hosts.XferProbe "$@"
}
start_target() { # start_target TAG NS SIZE ENV...  -> sets taddr
  local tag=$1 ns=$2 size=$3; shift 3
  probe "$ns" "$@" -- target "gen-$tag" "$size" > "$work/t-$tag.out" 2> "$work/t-$tag.err" &
  tpid=$!
  for _ in $(seq 240); do grep -q '^READY' "$work/t-$tag.out" && break; sleep 0.25; done
  taddr=$(awk '/^READY/{print $3}' "$work/t-$tag.out")
  [[ -n "$taddr" ]] || { echo "target $tag did not start:" >&2; tail -20 "$work/t-$tag.err" >&2; exit 1; }
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "n/a")}'; }
bench() { # bench TAG TARGET_NS INIT_NS SIZE COUNT ENV...  -> prints GB/s
  local tag=$1 tns=$2 ins=$3 size=$4 count=$5; shift 5
  start_target "$tag" "$tns" "$size" "$@"
  probe "$ins" "$@" -- initiator "ctx-$tag" "gen-$tag" "$taddr" "$size" bench "$count" > "$work/i-$tag.out" 2> "$work/i-$tag.err" || true
  wait "$tpid" || true
  local w t; w=$(awk '/WROTE-CRC/{print $2}' "$work/i-$tag.out"); t=$(awk '/^CRC/{print $2}' "$work/t-$tag.out")
  [[ -n "$w" && "$w" == "$t" ]] || { echo "bench $tag: data mismatch or failure" >&2; tail -5 "$work/i-$tag.err" >&2; echo n/a; return; }
  awk '/^RESULT/{print $4}' "$work/i-$tag.out"
}
stream() { # stream TAG SECONDS AT FOR ENV...  (target h1, initiator h0; cuts h1's link FOR s at AT s; FOR 0 = no cut)
  local tag=$1 secs=$2 at=$3 for=$4; shift 4
  start_target "$tag" "$NS1" 1MiB "$@"
  probe "$NS0" "$@" -- initiator "ctx-$tag" "gen-$tag" "$taddr" 1MiB stream "$secs" 100 30000 > "$work/i-$tag.out" 2> "$work/i-$tag.err" &
  local init=$!
  for _ in $(seq 240); do grep -q '^CONNECTED' "$work/i-$tag.out" && break; sleep 0.25; done
  if [[ $for != 0 ]]; then
    sleep "$at"; cut_at=$(date +%s%3N); ip -n "$BR" link set "$PORT1" down
    sleep "$for"; restore_at=$(date +%s%3N); ip -n "$BR" link set "$PORT1" up
  fi
  wait "$init" || true; wait "$tpid" || true
}

echo "# NIXL across network-namespace hosts"
echo
echo "Written by \`ci/hosts-figures.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) CPUs, Linux $(uname -r);"
echo "NIXL and UCX from the pinned wheel; etcd $("$etcd_bin" --version | head -1 | awk '{print $3}') in its own namespace host."
echo "Hosts: three namespaces on a bridge in a fourth (veth, MTU 1500); target in h1, initiator in h0."
echo
echo "## UCX lanes (initiator side, UCX_LOG_LEVEL=info UCX_PROTO_INFO=y)"
echo
for cfg in "default:" "UCX_TLS=tcp:UCX_TLS=tcp"; do
  name=${cfg%%:*}; env=${cfg#*:}; rm -f "$work"/ucx-*.log
  bench "lanes-${name//[^a-z]/}" "$NS1" "$NS0" 1MiB 3 UCX_LOG_LEVEL=info UCX_PROTO_INFO=y ${env:+"$env"} > /dev/null
  lanes=$(grep -h 'INFO.*ctx-lanes.*node cfg#1' "$work"/ucx-*.log | sed 's/.*INFO *//' | head -1 || true)
  put=$(awk '/ctx-lanes.*node cfg#1 *\|/ {c=1; next}
             c==1 && /remote memory write by ucp_put\* from/ {c=2; next}
             c==1 {c=0}
             c==2 && /\| 0\.\.inf/ {match($0, /\| 0\.\.inf.*/); print substr($0, RSTART); exit}' "$work"/ucx-*.log | tr -s ' ' || true)
  echo "- **$name**: \`$lanes\`; WRITE data (ucp_put): \`$put\`"
  ucxv=$(grep -ho 'Version [0-9.]*' "$work"/ucx-*.log | head -1 || true)
done
echo "- UCX: $ucxv"
echo
echo "## WRITE throughput, GB/s (median of $reps; one WRITE at a time, data checked by CRC)"
echo
echo "| size x count | across namespaces, UCX defaults | across namespaces, UCX_TLS=tcp | one namespace, UCX defaults | one namespace, UCX_TLS=tcp |"
echo "|---|---|---|---|---|"
for sz in "64MiB 20" "1MiB 300"; do
  set -- $sz; row="| $1 x $2"
  for cfg in "x:$NS0:" "x:$NS0:UCX_TLS=tcp" "l:$NS0:" "l:$NS0:UCX_TLS=tcp"; do
    IFS=: read -r kind ins env <<< "$cfg"; tns=$NS1; [[ $kind == l ]] && tns=$NS0
    runs=""
    for r in $(seq "$reps"); do runs="$runs $(bench "tp-$kind${env:+tcp}-$1-$r" "$tns" "$ins" "$1" "$2" ${env:+"$env"})"; done
    echo "throughput $kind ${env:-default} $1: $runs" >&2
    row="$row | $(echo $runs | tr ' ' '\n' | grep -v n/a | median || true)"
  done
  echo "$row |"
done
echo
echo "## h1's link cut for 2 s during a stream of 1 MiB WRITEs (one every 100 ms, 30 s deadline each), UCX_TLS=tcp"
echo
stream cut 20 6 2 UCX_TLS=tcp
total=$(grep -c '^XFER' "$work/i-cut.out" || true); done_n=$(grep -c '^XFER.* DONE ' "$work/i-cut.out" || true)
notes=$(grep -c '^NOTIF.* seq-' "$work/t-cut.out" || true)
echo "- transfers: $total, DONE: $done_n, notifications received: $notes"
awk -v c="$cut_at" '$1=="XFER" && $4!="DONE" {print "- not DONE: " $0} $1=="XFER" && $4=="DONE" && $5>50 {printf "- XFER %s posted %+d ms after the cut: DONE after %d ms\n", $2, $3-c, $5}' "$work/i-cut.out"
awk -v r="$restore_at" '$1=="NOTIF" && $2>=r {printf "- first notification after the restore: %d ms after it\n", $2-r; exit}' "$work/t-cut.out"
echo
echo "## 5 % packet loss each way on h1 ($([[ $NETEM == true ]] && echo "tc netem" || echo "nftables numgen drop: no sch_netem in this kernel")), UCX_TLS=tcp"
echo
ip netns exec "$NS1" nft -f - <<'EOF' 2>/dev/null || tc -n "$NS1" qdisc replace dev eth0 root netem loss 5%
table inet kvxloss {
  chain input_loss { type filter hook input priority -10; policy accept; numgen random mod 10000 < 500 counter drop; }
  chain output_loss { type filter hook output priority -10; policy accept; numgen random mod 10000 < 500 counter drop; }
}
EOF
echo "- 64 MiB x 10 WRITE: $(bench loss64 "$NS1" "$NS0" 64MiB 10 UCX_TLS=tcp) GB/s"
stream loss 20 0 0 UCX_TLS=tcp
awk '$1=="XFER"{print $5}' "$work/i-loss.out" | sort -n | awk '{a[NR]=$1} END {printf "- 1 MiB stream: %d transfers, post-to-done ms p50 %s, p90 %s, p99 %s, max %s\n", NR, a[int(NR*0.5)], a[int(NR*0.9)], a[int(NR*0.99)], a[NR]}'
echo "- failed or timed out: $(grep -c '^XFER' "$work/i-loss.out" | awk '{print $1}') posted, $(grep '^XFER' "$work/i-loss.out" | grep -vc ' DONE ' || true) not DONE; notifications received $(grep -c '^NOTIF.* seq-' "$work/t-loss.out" || true)"
ip netns exec "$NS1" nft delete table inet kvxloss 2>/dev/null || tc -n "$NS1" qdisc del dev eth0 root 2>/dev/null || true
echo
if [[ $NETEM == true ]]; then
  echo "## 20 ms delay each way on h1 (tc netem), UCX_TLS=tcp"
  echo
  tc -n "$NS1" qdisc replace dev eth0 root netem delay 20ms
  tc -n "$BR" qdisc replace dev "$PORT1" root netem delay 20ms
  echo "- 64 MiB x 10 WRITE: $(bench delay64 "$NS1" "$NS0" 64MiB 10 UCX_TLS=tcp) GB/s"
  stream delay 15 0 0 UCX_TLS=tcp
  awk '$1=="XFER"{print $5}' "$work/i-delay.out" | sort -n | awk '{a[NR]=$1} END {printf "- 1 MiB stream: %d transfers, post-to-done ms p50 %s, p90 %s, max %s\n", NR, a[int(NR*0.5)], a[int(NR*0.9)], a[NR]}'
  tc -n "$NS1" qdisc del dev eth0 root; tc -n "$BR" qdisc del dev "$PORT1" root
else
  echo "## 20 ms delay: not measured (this kernel has no sch_netem)"
fi
