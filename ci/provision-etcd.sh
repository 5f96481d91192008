#!/usr/bin/env bash
# Finds an etcd server (v3 API, which NIXL's etcd client speaks over gRPC) and prints its path.
#   1. $KVX_ETCD (a path to the etcd binary), 2. `etcd` on PATH,
#   3. otherwise installs Debian's etcd-server + etcd-client with apt-get (needs root), then prints it.
# Idempotent: a second run only prints the path. Messages go to stderr; stdout is the path alone.
# The Debian package's systemd unit is not started (kvx starts its own etcd with a temp data dir).
set -euo pipefail

usable() { [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -q '^etcd Version: 3\.'; }

if [[ -n "${KVX_ETCD:-}" ]]; then
  usable "$KVX_ETCD" || { echo "kvx: KVX_ETCD=$KVX_ETCD is not an etcd 3.x binary" >&2; exit 1; }
  echo "$KVX_ETCD"; exit 0
fi
if found=$(command -v etcd 2>/dev/null) && usable "$found"; then
  echo "$found"; exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "kvx: no etcd on PATH and no apt-get to install it; install etcd 3.4+ and put it on PATH (or set KVX_ETCD)" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "kvx: no etcd on PATH; installing it needs root: sudo apt-get install etcd-server etcd-client (or set KVX_ETCD)" >&2
  exit 1
fi
echo "kvx: installing Debian's etcd-server and etcd-client ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# policy-rc.d in containers keeps the package's service from starting; elsewhere it starts the
# distribution's etcd on 127.0.0.1:2379, which kvx does not use (it picks its own ports).
apt-get install -y -qq etcd-server etcd-client >&2
found=$(command -v etcd 2>/dev/null || true)
if [[ -z "$found" ]] || ! usable "$found"; then
  echo "kvx: etcd-server was installed but no usable etcd 3.x binary is on PATH" >&2
  exit 1
fi
echo "kvx: $("$found" --version | head -1) at $found" >&2
echo "$found"
