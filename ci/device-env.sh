# Sourced by the ci/device-*.sh scripts on the GPU machine: unpacks what ci/device-pack.sh put in
# .device/ (the jlink'ed JRE, the native libraries) into a scratch folder and sets
#   root work java cp junit opts   (and NIXL_LOG_LEVEL=ERROR unless set)
# so that each script starts from the same runtime.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -d "$root/.device" ]] || { echo "no .device/: run ci/device-pack.sh here and carry .device" >&2; exit 1; }
work=$(mktemp -d /tmp/kvx-device.XXXXXX); mkdir -p "$work/native"
tar -C "$work" -xzf "$root/.device/jre.tgz"
tar -C "$work/native" -xzf "$root/.device/native.tgz"
java="$work/jre/bin/java"
cp=$(ls "$root"/.device/lib/kvx-*.jar "$root"/.device/lib/deps/*.jar | tr '\n' ':')
junit=$(ls "$root"/.device/lib/junit-platform-console-standalone-*.jar)
opts=(--enable-native-access=ALL-UNNAMED -Dkvx.native.dir="$work/native")
export NIXL_LOG_LEVEL=${NIXL_LOG_LEVEL:-ERROR}
