#!/usr/bin/env bash
# The README's test command: provisions the native libraries (first run only), then builds every
# module and runs the JUnit suites against the real NIXL library. GPU tests run only where a CUDA
# device exists (elsewhere they are skipped with the reason). Extra arguments go to Maven.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
JAVA_HOME=$(ci/find-jdk.sh); export JAVA_HOME
ci/provision-native.sh
command -v mvn >/dev/null || { echo "kvx: Maven is needed to build (apt-get install maven)" >&2; exit 1; }
# the report's browser test and the soak's report.png need a headless browser: installed when missing
ci/provision-chromium.sh >/dev/null
export KVX_REQUIRE_BROWSER=1
echo "kvx: testing with $("$JAVA_HOME/bin/java" -version 2>&1 | head -1) and native folder $root/.native"
# NIXL logs expected errors of the bad-input tests at WARN; keep the test output readable.
export NIXL_LOG_LEVEL=${NIXL_LOG_LEVEL:-ERROR}
mvn -B -ntp install "$@"
