#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for a run on the GPU machine, which has the NVIDIA driver but no
# Java, Maven or network: a jlink'ed JRE, the built jars and test classes, the JUnit console launcher,
# and only the native libraries kvx loads (the closure of libnixl_capi.so, the UCX plugin and UCX's
# CUDA/CMA modules, plus libcudart). The whole tree must travel within the device tool's 64 MiB.
# Then, with the device tool:  run  command="bash ci/device-test.sh"  carry=[".device"]
# (or command="bash ci/device-bench.sh" for the benchmark suite).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
JAVA_HOME=$(ci/find-jdk.sh); export JAVA_HOME
ci/provision-native.sh
mvn -B -q -ntp install -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true
out="$root/.device"; rm -rf "$out"; mkdir -p "$out/lib"
for j in bindings/target/kvx-bindings-*.jar java-api/target/kvx-api-*.jar cli/target/kvx-cli-*.jar; do
  [[ $j == *-sources.jar || $j == *-javadoc.jar ]] || cp "$j" "$out/lib/"
done
# the CLI's libraries (picocli, ...) without kvx's own jars, which are above
mkdir -p "$out/lib/deps"; for j in cli/target/lib/*.jar; do [[ $(basename "$j") == kvx-* ]] || cp "$j" "$out/lib/deps/"; done
(cd java-api/target/test-classes && "$JAVA_HOME/bin/jar" cf "$out/lib/kvx-api-tests.jar" .)
# the benchmark suite (ci/device-bench.sh): the JMH jar and the C baseline, built here with gcc
mkdir -p "$out/bench"
cp jmh/target/kvx-benchmarks.jar "$out/bench/"
libdir="$root/.native/nixl/.nixl_cu13.mesonpy.libs"
gcc -O2 -Wall -Wextra -I native-headers -o "$out/bench/nixl_baseline" jmh/c/nixl_baseline.c -L"$libdir" -l:libnixl_capi.so
gcc -O2 -Wall -I .native/cuda/include -o "$out/bench/cuda_peer_copy" jmh/c/cuda_peer_copy.c -L.native/cuda/lib -l:libcudart.so.13
# the request-level benchmark (ci/device-bench.sh --requests): the C program (CUDA loaded at run time for
# mem=vram), the cudaMemcpy block-by-block baseline, and NIXL's Python package for the device's Python
gcc -O2 -Wall -Wextra -I native-headers -o "$out/bench/request_bench" jmh/c/request_bench.c jmh/c/request_bench_common.c jmh/c/request_bench_pool.c \
  -L"$libdir" -l:libnixl_capi.so -lpthread -ldl
gcc -O2 -Wall -Wextra -I .native/cuda/include -o "$out/bench/cuda_block_copy" jmh/c/cuda_block_copy.c -L.native/cuda/lib -l:libcudart.so.13
pyver=${KVX_DEVICE_PYTHON:-3.12} # the device image's python3 (KINDS.md: 3.12.3, with torch)
nixl_version=$(sed -n 's/^NIXL_VERSION=//p' ci/provision-native.sh)
pytmp=$(mktemp -d)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --platform manylinux_2_28_x86_64 \
  -d "$pytmp" "nixl-cu13==$nixl_version"
rm -rf .native/nixl/nixl_cu13 && unzip -q "$pytmp"/nixl_cu13-*.whl 'nixl_cu13/*' -d .native/nixl && rm -rf "$pytmp"
mvn -B -q -ntp dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 -DoutputDirectory="$out/lib"

"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.xml,java.management,jdk.unsupported,java.naming,jdk.jfr,jdk.zipfs,jdk.management,java.net.http \
  --strip-debug --no-man-pages --no-header-files --compress zip-9 --output "$out/jre-tmp"
tar -C "$out" -czf "$out/jre.tgz" --transform 's,^jre-tmp,jre,' jre-tmp && rm -rf "$out/jre-tmp"

cd "$root/.native"
roots="nixl/.nixl_cu13.mesonpy.libs/libnixl_capi.so nixl/.nixl_cu13.mesonpy.libs/plugins/libplugin_UCX.so
       nixl/nixl_cu13.libs/ucx/libuct_cuda.so.0.0.0 nixl/nixl_cu13.libs/ucx/libucm_cuda.so.0.0.0 nixl/nixl_cu13.libs/ucx/libuct_cma.so.0.0.0"
native_real=$(pwd -P)   # .native may be a link to a shared copy; ldd prints physical paths
for r in $roots; do echo "$r"; LD_LIBRARY_PATH= ldd "$r" | awk '{print $3}' | grep "^$native_real/" | xargs -r realpath --relative-to=.; done \
  | sort -u > "$out/native-files.txt"
# nixl_cu13/ beside .nixl_cu13.mesonpy.libs: its extension modules find libnixl.so through $ORIGIN/../
tar -czf "$out/native.tgz" -T "$out/native-files.txt" cuda/lib/libcudart.so.13 MANIFEST nixl/nixl_cu13
du -sh "$out" "$out"/*
