mib=$((1<<20))
run() { label=$1; shift; echo "== $label $*"; env "$@" bash ci/device-bench.sh --requests-only 2>&1 | grep -E "round|FAILED" ; grep -h "intact\|Exception\|unreachable" $OUT/bench/logs/*.log | head -4; rm -rf $OUT/bench; }
run default REQUESTS_ARGS="--impls kvx,kvx-poll --startup 200 --run-timeout 60 --shapes 8x$((2*mib)),8x$((256*1024)) --counts 100:200,100:200"
