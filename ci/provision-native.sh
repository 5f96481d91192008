#!/usr/bin/env bash
# Provisions the native libraries kvx binds into .native/ (or $KVX_NATIVE_DIR), once.
#   NIXL 1.5.1 (UCX backend, plugins, bundled UCX) from the official nixl-cu13 wheel on PyPI,
#   the CUDA 13.0 runtime (libcudart.so.13 + headers) from the nvidia-cuda-runtime wheel.
# pip is only the package client (pip download --no-deps); nothing is installed into Python.
# Idempotent: when .native/MANIFEST records the same pins, it does nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${KVX_NATIVE_DIR:-$root/.native}
NIXL_VERSION=1.5.1
NIXL_SHA256=ce48b601bad4c4503a5d9d418e6f4b1289a3a68e407af99f0f7e377f8371f49b
CUDART_VERSION=13.0.96
CUDART_SHA256=7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548
# crt/ headers only (cuda_runtime_api.h includes crt/host_defines.h); needed to regenerate bindings.
CRT_VERSION=13.0.88
CRT_SHA256=2c8043c7c9e02492716426e9919fc78d2c5b3b2a7a768a88e952676b08aa55a4
stamp="nixl-cu13==$NIXL_VERSION sha256=$NIXL_SHA256; nvidia-cuda-runtime==$CUDART_VERSION sha256=$CUDART_SHA256; nvidia-cuda-crt==$CRT_VERSION sha256=$CRT_SHA256"

if [[ -f "$dest/MANIFEST" ]] && grep -qF "pins: $stamp" "$dest/MANIFEST" && [[ -f "$dest/nixl/.nixl_cu13.mesonpy.libs/libnixl_capi.so" ]]; then
  [[ "${1:-}" == "--verbose" ]] && echo "kvx: native libraries already provisioned in $dest"
  exit 0
fi

py=$(command -v python3 || command -v python || true)
if [[ -z "$py" ]] || ! "$py" -m pip --version >/dev/null 2>&1; then
  echo "kvx: provisioning needs pip as a package client (python3 -m pip). Install it with 'apt-get install python3-pip'," >&2
  echo "kvx: or unpack nixl-cu13==$NIXL_VERSION and nvidia-cuda-runtime==$CUDART_VERSION yourself and set KVX_NATIVE_DIR." >&2
  exit 1
fi
command -v unzip >/dev/null || { echo "kvx: provisioning needs 'unzip' (apt-get install unzip)" >&2; exit 1; }

echo "kvx: provisioning native libraries into $dest (NIXL $NIXL_VERSION, CUDA runtime $CUDART_VERSION) ..."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 "${plat[@]}" -d "$tmp" \
    "nixl-cu13==$NIXL_VERSION" "nvidia-cuda-runtime==$CUDART_VERSION" "nvidia-cuda-crt==$CRT_VERSION"
nixl_whl=$(ls "$tmp"/nixl_cu13-*.whl); cudart_whl=$(ls "$tmp"/nvidia_cuda_runtime-*.whl); crt_whl=$(ls "$tmp"/nvidia_cuda_crt-*.whl)
check() { local f=$1 want=$2 got; got=$(sha256sum "$f" | cut -d' ' -f1)
  [[ "$got" == "$want" ]] || { echo "kvx: sha256 mismatch for $(basename "$f"): got $got, pinned $want" >&2; exit 1; }; }
check "$nixl_whl" "$NIXL_SHA256"; check "$cudart_whl" "$CUDART_SHA256"; check "$crt_whl" "$CRT_SHA256"

rm -rf "$dest.new"; mkdir -p "$dest.new/nixl" "$dest.new/cuda"
# The wheel's relative RPATHs ($ORIGIN/../nixl_cu13.libs) need these two folders side by side.
unzip -q "$nixl_whl" '.nixl_cu13.mesonpy.libs/*' 'nixl_cu13.libs/*' -d "$dest.new/nixl"
unzip -q "$cudart_whl" 'nvidia/cu13/lib/libcudart.so.13' 'nvidia/cu13/include/*' -d "$tmp/cudart"
mv "$tmp/cudart/nvidia/cu13/lib" "$dest.new/cuda/lib"; mv "$tmp/cudart/nvidia/cu13/include" "$dest.new/cuda/include"
unzip -q "$crt_whl" 'nvidia/cu13/include/crt/*' -d "$tmp/crt"; mv "$tmp/crt/nvidia/cu13/include/crt" "$dest.new/cuda/include/crt"
{
  echo "# kvx native folder, written by ci/provision-native.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "pins: $stamp"
  echo "nixl_capi: nixl/.nixl_cu13.mesonpy.libs/libnixl_capi.so"
  echo "cudart: cuda/lib/libcudart.so.13"
  echo "# sha256 of every shared library"
  (cd "$dest.new" && find . -name '*.so*' -type f | sort | xargs sha256sum)
} > "$dest.new/MANIFEST"
rm -rf "$dest"; mv "$dest.new" "$dest"
echo "kvx: native libraries ready in $dest ($(du -sh "$dest" | cut -f1)); see $dest/MANIFEST"
