#!/usr/bin/env bash
# tools/gpu-check.sh — on a GPU machine: configure for the GPU (SINKBENCH_CUDA=ON, archs 90a),
# build the CUDA targets with Ninja, run `ctest -L gpu`, compute-sanitizer (memcheck, racecheck)
# on the small cases, the forward benchmark, and `sinkbench run --suite gpt-oss --device cuda`
# where the CLI and suite exist. Logs go to $OUT (or out/gpu-check); a short summary is printed
# last. Calls cmake directly (no tools/setup.sh: the GPU machine has the dependencies and no
# network). Exit status: non-zero if the build, a gpu test or a sanitizer check failed.
#   SINKBENCH_BUILD   build directory (default build-gpu)
#   GPU_CHECK_SKIP    space-separated steps to skip: tests sanitizer bench cli
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SINKBENCH_BUILD:-$root/build-gpu}
out=${OUT:-$root/out/gpu-check}
skip=" ${GPU_CHECK_SKIP:-} "
mkdir -p "$out"
status=0
summary=()
note() { summary+=("$1"); echo "== $1"; }
skipped() { [[ "$skip" == *" $1 "* ]]; }

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv \
  >"$out/gpu.txt" 2>&1 || true
note "gpu: $(tail -n1 "$out/gpu.txt")"

t0=$SECONDS
if ! cmake -S "$root" -B "$build" -G Ninja -DSINKBENCH_CUDA=ON -DSINKBENCH_CUDA_ARCHS=90a \
    -DCMAKE_BUILD_TYPE=Release >"$out/configure.log" 2>&1; then
  note "configure FAILED (configure.log)"; tail -30 "$out/configure.log"; exit 1
fi
targets="tiled_cuda_test bench_tiled_cuda"
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^sinkbench:'; then
  targets="$targets sinkbench"
fi
if ! ninja -C "$build" -j"$(nproc)" $targets >"$out/build.log" 2>&1; then
  # The CLI belongs to another area and may be mid-edit: build without it before giving up.
  if ! ninja -C "$build" -j"$(nproc)" tiled_cuda_test bench_tiled_cuda >>"$out/build.log" 2>&1; then
    note "build FAILED (build.log)"; grep -E "error|FAILED" "$out/build.log" | head -30; exit 1
  fi
  note "build: CLI target failed, CUDA targets ok"
fi
grep -E "ptxas info *: Used|spill" "$out/build.log" >"$out/ptxas.txt" || true
note "build ok in $((SECONDS - t0)) s"

test_bin=$build/tests/impls/cuda/tiled_cuda_test
if ! skipped tests; then
  t0=$SECONDS
  # From this area's test folder: ctest higher up also runs the discovery of test programs this
  # script does not build (their PRE_TEST include files then fail to parse under CMake 4).
  ctest --test-dir "$build/tests/impls/cuda" -L gpu -j8 --output-on-failure --timeout 900 >"$out/ctest.log" 2>&1
  rc=$?
  [[ $rc -ne 0 ]] && status=1
  note "ctest -L gpu (rc $rc, $((SECONDS - t0)) s): $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)"
  grep -E "^\s*[0-9]+ - .*(Failed|Timeout|Not Run)" "$out/ctest.log" | head -20
  # The gtest binary itself, all of it: the definitive record for this area's GPU tests (ctest
  # stops early if another area's test discovery file does not parse).
  t0=$SECONDS
  OMP_NUM_THREADS=16 "$test_bin" --gtest_brief=1 >"$out/gtest.log" 2>&1
  rc=$?
  [[ $rc -ne 0 ]] && status=1
  note "tiled_cuda_test (rc $rc, $((SECONDS - t0)) s): $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/gtest.log" | tr '\n' ' ')"
  grep -E "Failure|FAILED|error:|Which is|Value of|verdict|fail o_|fail lse" "$out/gtest.log" | head -30
fi

if ! skipped sanitizer; then
  filter='TiledCudaSanitize.*:GenerateCuda.*:GuardedBuffer.*'
  for tool in memcheck racecheck; do
    t0=$SECONDS
    compute-sanitizer --tool $tool --error-exitcode 99 "$test_bin" --gtest_filter="$filter" \
      >"$out/sanitizer-$tool.log" 2>&1
    rc=$?
    [[ $rc -ne 0 ]] && status=1
    note "compute-sanitizer $tool (rc $rc, $((SECONDS - t0)) s): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer-$tool.log" | tail -1) $(grep -E '^\[  (PASSED|FAILED) ' "$out/sanitizer-$tool.log" | tr '\n' ' ')"
    grep -E "Failure|FAILED|Which is|fail " "$out/sanitizer-$tool.log" | head -10
  done
fi

if ! skipped cli && [[ -x $build/tools/sinkbench/sinkbench || -x $build/sinkbench ]]; then
  cli=$build/sinkbench; [[ -x $cli ]] || cli=$build/tools/sinkbench/sinkbench
  timeout 300 "$cli" run --suite gpt-oss --device cuda -o "$out/gpt-oss-cuda.h5" \
    >"$out/cli-run.log" 2>&1
  note "sinkbench run --suite gpt-oss --device cuda: rc $? (cli-run.log): $(tail -n1 "$out/cli-run.log")"
fi

if ! skipped bench; then
  "$build/bench/bench_tiled_cuda" --benchmark_out="$out/bench.json" --benchmark_out_format=json \
    >"$out/bench.log" 2>&1 || status=1
  note "bench_tiled_cuda done (bench.log, bench.json)"
  bench_table=$(sed -n '/^# tiled\/cuda/,$p' "$out/bench.log")
fi

# The device hands back at most 8 files: bundle the logs.
(cd "$out" && tar czf logs.tgz ./*.log ./*.txt 2>/dev/null && rm -f ./*.log ./*.txt) || true
echo
echo "---- summary ----"
printf '%s\n' "${summary[@]}"
[[ -n ${bench_table:-} ]] && printf '%s\n' "$bench_table"
exit $status
