#!/usr/bin/env bash
# tools/bwd-device-check.sh — on a GPU machine, the tiled/cuda backward checks alone: build the
# backward test (and benchmark, when asked), run the test in parallel shards, compute-sanitizer
# memcheck and racecheck on its small cases. Logs go to $OUT (or out/bwd-check).
#   BWD_BUILD  build directory (default build); BWD_BENCH=1: also build and run the benchmark;
#   BWD_SANITIZE=0: skip compute-sanitizer; BWD_SHARDS: parallel test shards (12)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BWD_BUILD:-$root/build}
out=${OUT:-$root/out/bwd-check}
mkdir -p "$out"
targets=tiled_bwd_cuda_test
[[ ${BWD_BENCH:-0} == 1 ]] && targets="$targets bench_tiled_bwd_cuda"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSINKBENCH_CUDA=ON \
  -DSINKBENCH_CUDA_ARCHS=90a -DSINKBENCH_TESTS=ON >"$out/configure.log" 2>&1 || exit 1
ninja -C "$build" $targets >"$out/build.log" 2>&1 || { grep -E "error|FAILED" "$out/build.log" | head -30; exit 1; }
grep -A3 "Function properties for .*bwd_" "$out/build.log" | grep -E "Used|spill" >"$out/ptxas.txt"
bin=$build/tests/impls/cuda/tiled_bwd_cuda_test
shards=${BWD_SHARDS:-12}
status=0
logs=$(mktemp -d)
t0=$SECONDS
for i in $(seq 0 $((shards - 1))); do
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i "$bin" \
    >"$logs/shard$i.log" 2>&1 &
done
wait
cat "$logs"/shard*.log >"$out/test.log"
echo "tests: $((SECONDS - t0)) s"
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|SEED" "$out/test.log" | sort | uniq -c | head -40
grep -E "Failure|differs|bound|Expected|Which is" "$out/test.log" | head -30
grep -q "FAILED" "$out/test.log" && status=1
if [[ ${BWD_BENCH:-0} == 1 ]]; then
  "$build/bench/bench_tiled_bwd_cuda" --benchmark_out="$out/bench.json" \
    --benchmark_out_format=json >"$out/bench.log" 2>&1 || status=1
  sed -n '/^# tiled\/cuda backward/,$p' "$out/bench.log"
fi
if [[ ${BWD_SANITIZE:-1} == 1 ]]; then
  for tool in memcheck racecheck; do
    compute-sanitizer --tool $tool --error-exitcode 99 "$bin" \
      --gtest_filter='TiledCudaBwdSanitize.*' >"$out/sanitizer-$tool.log" 2>&1 || status=1
    echo "$tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|rror' "$out/sanitizer-$tool.log" | tail -1)"
  done
fi
exit $status
