#!/usr/bin/env bash
# Regenerates the committed jextract output under bindings/src/main/java. Never edit that output by hand.
#   JEXTRACT  path to a jextract launcher (see bindings/README.md for the version and how it was built)
# Inputs: native-headers/nixl_capi.h + nixl.args, the CUDA runtime headers of the provisioned
# nvidia-cuda-runtime wheel (.native/cuda/include) + cudart.args.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jextract=${JEXTRACT:-jextract}
command -v "$jextract" >/dev/null || { echo "regenerate.sh: set JEXTRACT to a jextract launcher (bindings/README.md says which)" >&2; exit 1; }
"$root/ci/provision-native.sh"
native=${KVX_NATIVE_DIR:-$root/.native}
out="$root/bindings/src/main/java"
rm -rf "$out/dev/kvx/internal/gen"
mkdir -p "$out"
# No --library: kvx loads the libraries itself (dev.kvx.internal.NativeLibraries) from a configurable
# folder with actionable errors, and the generated code resolves symbols through the loader lookup.
"$jextract" --output "$out" @"$root/native-headers/nixl.args" "$root/native-headers/nixl_capi.h"
"$jextract" --output "$out" -I "$native/cuda/include" @"$root/native-headers/cudart.args" "$native/cuda/include/cuda_runtime_api.h"
"$jextract" --output "$out" @"$root/native-headers/kvx_request.args" "$root/native-headers/kvx_request.h"
"$jextract" --version 2>&1 | head -1 > "$root/bindings/JEXTRACT_VERSION"
echo "regenerated: $(find "$out/dev/kvx/internal/gen" -name '*.java' | wc -l) files"
