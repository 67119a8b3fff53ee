#!/usr/bin/env bash
# tools/gpu-check.sh — on a GPU machine: configure for the GPU (SINKBENCH_CUDA=ON, archs 90a),
# build ALL targets (a top-level `ctest -L gpu` runs the discovery of every test program, so all
# must exist), run `ctest -L gpu` from the top of the build, optionally compute-sanitizer on the
# small cases (forward and backward), the forward and backward benchmarks, and `sinkbench run
# --suite gpt-oss --device cuda`. Logs go to $OUT (or out/gpu-check), bundled as logs.tgz; a short
# summary is printed last. Calls cmake
# directly (no tools/setup.sh: the GPU machine has the dependencies and no network). The peers'
# forward and backward timings on the benchmarks' shapes run in the same call, and a table of
# our medians against theirs (tools/peers/ratios.py) is printed last. Exit status:
# non-zero if the build, a gpu test, a sanitizer check or the benchmark failed.
#   SINKBENCH_BUILD   build directory (default build-gpu)
#   GPU_CHECK_SKIP    space-separated steps to skip: tests sanitizer bench cli peers (their
#                     timings) peer-check (their judged runs on the suite peers) golden
#   GPU_CHECK_NCU=1   also profile one launch of each kernel behind a speed target with Nsight
#                     Compute (--set full; reports in the build folder's ncu/ and ncu-reports.tgz,
#                     a metrics table in ncu.txt)
#   GPU_CHECK_JOBS    build and ctest parallelism (default: nproc)
#   GPU_CHECK_CTEST_TIMEOUT, GPU_CHECK_CLI_TIMEOUT   seconds for those steps (3600, 600)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SINKBENCH_BUILD:-$root/build-gpu}
out=${OUT:-$root/out/gpu-check}
skip=" ${GPU_CHECK_SKIP:-} "
jobs=${GPU_CHECK_JOBS:-$(nproc)}
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
    -DSINKBENCH_PTXAS_VERBOSE=ON -DCMAKE_BUILD_TYPE=Release >"$out/configure.log" 2>&1; then
  note "configure FAILED (configure.log)"; tail -30 "$out/configure.log"; exit 1
fi
# Everything: -k 0 keeps going past a failing target of another area, so the GPU programs still
# get built and the failure is reported (and fails the check) instead of hiding the rest.
if ! cmake --build "$build" -j"$jobs" -- -k 0 >"$out/build.log" 2>&1; then
  status=1
  note "build FAILED for some targets (build.log):"
  grep -E "^FAILED|error:" "$out/build.log" | head -20
else
  note "build ok (all targets) in $((SECONDS - t0)) s"
fi
grep -E "ptxas info *: Used|spill" "$out/build.log" >"$out/ptxas.txt" || true

if ! skipped tests; then
  t0=$SECONDS
  OMP_NUM_THREADS=2 timeout "${GPU_CHECK_CTEST_TIMEOUT:-3600}" \
    ctest --test-dir "$build" -L gpu -j"$jobs" --output-on-failure --timeout 900 \
    >"$out/ctest.log" 2>&1
  rc=$?
  [[ $rc -ne 0 ]] && status=1
  note "ctest -L gpu (rc $rc, $((SECONDS - t0)) s): $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)"
  grep -E "^\s*[0-9]+ - .*(Failed|Timeout|Not Run)" "$out/ctest.log" | head -30
  grep -E "Failure|Which is|fail o_|fail lse|verdict" "$out/ctest.log" | head -30
fi

if ! skipped sanitizer; then
  filter='TiledCudaSanitize.*:GenerateCuda.*:GuardedBuffer.*'
  for tool in memcheck racecheck; do
    t0=$SECONDS
    compute-sanitizer --tool $tool --error-exitcode 99 "$build/tests/impls/cuda/tiled_cuda_test" \
      --gtest_filter="$filter" >"$out/sanitizer-$tool.log" 2>&1
    rc=$?
    [[ $rc -ne 0 ]] && status=1
    note "compute-sanitizer $tool (rc $rc, $((SECONDS - t0)) s): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer-$tool.log" | tail -1)"
    # The backward pass (tiled_bwd_cuda_test's small cases).
    t0=$SECONDS
    compute-sanitizer --tool $tool --error-exitcode 99 \
      "$build/tests/impls/cuda/tiled_bwd_cuda_test" --gtest_filter='TiledCudaBwdSanitize.*' \
      >"$out/sanitizer-bwd-$tool.log" 2>&1
    rc=$?
    [[ $rc -ne 0 ]] && status=1
    note "compute-sanitizer $tool, backward (rc $rc, $((SECONDS - t0)) s): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer-bwd-$tool.log" | tail -1)"
    # eager_concat/cuda's backward (cuBLAS and its row kernels) on small cases.
    t0=$SECONDS
    compute-sanitizer --tool $tool --error-exitcode 99 "$build/tests/impls/cuda/sinks_cuda_test" \
      --gtest_filter='EagerCudaBwdSanitize.*' >"$out/sanitizer-eager-bwd-$tool.log" 2>&1
    rc=$?
    [[ $rc -ne 0 ]] && status=1
    note "compute-sanitizer $tool, eager backward (rc $rc, $((SECONDS - t0)) s): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer-eager-bwd-$tool.log" | tail -1)"
  done
fi

if ! skipped bench && [[ -x $build/bench/bench_tiled_cuda ]]; then
  t0=$SECONDS
  "$build/bench/bench_tiled_cuda" --benchmark_out="$out/bench.json" --benchmark_out_format=json \
    >"$out/bench.log" 2>&1 || status=1
  note "bench_tiled_cuda done in $((SECONDS - t0)) s (bench.log, bench.json)"
  bench_table=$(sed -n '/^# tiled\/cuda/,$p' "$out/bench.log")
fi

if ! skipped bench && [[ -x $build/bench/bench_tiled_bwd_cuda ]]; then
  t0=$SECONDS
  "$build/bench/bench_tiled_bwd_cuda" --benchmark_out="$out/bench-bwd.json" \
    --benchmark_out_format=json >"$out/bench-bwd.log" 2>&1 || status=1
  note "bench_tiled_bwd_cuda done in $((SECONDS - t0)) s (bench-bwd.log, bench-bwd.json)"
  bwd_table=$(sed -n '/^# tiled\/cuda backward/,$p' "$out/bench-bwd.log")
fi

if ! skipped bench && [[ -x $build/bench/bench_paged_cuda ]]; then
  t0=$SECONDS
  "$build/bench/bench_paged_cuda" --benchmark_out="$out/bench-paged.json" \
    --benchmark_out_format=json >"$out/bench-paged.log" 2>&1 || status=1
  note "bench_paged_cuda done in $((SECONDS - t0)) s (bench-paged.log, bench-paged.json)"
  paged_table=$(sed -n '/^# flash_paged\/cuda/,$p' "$out/bench-paged.log")
fi

# Nsight Compute on the kernels behind the speed targets (issues' prefill, window layer, window
# decode, backward): one launch each after warm-up launches, the clocks left alone.
if [[ ${GPU_CHECK_NCU:-0} == 1 ]] && command -v ncu >/dev/null; then
  t0=$SECONDS
  profile() {  # name, program, benchmark filter, kernel regex, launches to skip
    ncu --clock-control none --set full -k "regex:$4" --launch-skip "$5" --launch-count 1 \
      -o "$build/ncu/$1" "$build/bench/$2" --benchmark_filter="$3" >"$out/ncu-$1.log" 2>&1
    {
      echo "## $1 ($2, $3)"
      ncu --import "$build/ncu/$1.ncu-rep" --page details 2>&1 | grep -E \
        "Duration|Compute \(SM\) Throughput|DRAM Throughput|Registers Per Thread|Achieved Occupancy|Theoretical Occupancy|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Dynamic Shared Memory Per Block"
    } >>"$out/ncu.txt"
  }
  mkdir -p "$build/ncu"
  : >"$out/ncu.txt"
  profile prefill-d64-s8192 bench_tiled_cuda 'd64/B1/S8192/causal/min_time' tiled_fwd_wgmma_kernel 3
  profile window-d64-s8192 bench_tiled_cuda 'd64/B1/S8192/win128/min_time' tiled_fwd_kernel 3
  profile decode-window-b64 bench_paged_cuda 'B64/L8192/h64_8/win128' paged_split_kernel 3
  profile bwd-dkdv-d64-s8192 bench_tiled_bwd_cuda 'd64/S8192/causal/min_time' bwd_dkdv_kernel 3
  profile bwd-dq-d64-s8192 bench_tiled_bwd_cuda 'd64/S8192/causal/min_time' bwd_dq_kernel 3
  # The reports themselves, to open in the Nsight Compute UI (a large bundle may not come back
  # from a remote machine; ncu.txt holds the figures either way).
  tar czf "$out/ncu-reports.tgz" -C "$build" ncu 2>/dev/null || true
  note "Nsight Compute on 5 kernels in $((SECONDS - t0)) s (ncu.txt, ncu-reports.tgz)"
  ncu_table=$(cat "$out/ncu.txt")
fi

# The peers' speed on the same shapes in the same call (tools/peers/fwd_peers.py, bwd_peers.py):
# our medians against theirs as ratios, since only figures of one call on one GPU compare.
if ! skipped bench && ! skipped peers; then
  t0=$SECONDS
  python3 "$root/tools/peers/fwd_peers.py" --json "$out/peers-fwd.json" >"$out/peers-fwd.log" 2>&1 ||
    status=1
  ratio_table=$(python3 "$root/tools/peers/ratios.py" "$out/peers-fwd.json" "$out"/bench.json \
    "$out"/bench-paged.json 2>&1)
  # HF eager's backward (about 17 TFLOP/s, docs/findings.md) would take minutes of the call.
  python3 "$root/tools/peers/bwd_peers.py" --peers sdpa,flex --json "$out/peers-bwd.json" \
    >"$out/peers-bwd.log" 2>&1 || status=1
  ratio_table+=$'\n'$(python3 "$root/tools/peers/ratios.py" "$out/peers-bwd.json" \
    "$out/bench-bwd.json" 2>&1)
  note "peers' forward and backward timings in $((SECONDS - t0)) s (peers-fwd.log, peers-bwd.log)"
  peers_bwd_table=$(grep -E '^[|#]' "$out/peers-bwd.log")
fi

if ! skipped cli && [[ -x $build/sinkbench ]]; then
  t0=$SECONDS
  timeout "${GPU_CHECK_CLI_TIMEOUT:-600}" "$build/sinkbench" run --suite gpt-oss --device cuda \
    -o "$out/gpt-oss.h5" >"$out/cli-run.log" 2>&1
  note "sinkbench run --suite gpt-oss --device cuda: rc $? in $((SECONDS - t0)) s (cli-run.log, gpt-oss.h5)"
  cli_tail=$(tail -n 40 "$out/cli-run.log")
fi

# PyTorch's attention paths (tools/peers/: HF eager, flex + lse renorm, SDPA without sinks)
# judged by `check` next to ours on the suite peers; sdpa-nosink's failures are expected (it has
# no sinks) and only counted. Big arrays stay in the build folder; peers.tgz holds the results.
if ! skipped peer-check && [[ -x $build/sinkbench ]]; then
  t0=$SECONDS
  bash "$root/tools/peers/check_peers.sh" "$build/sinkbench" "$out" "$build/peers" \
    >"$out/peers.log" 2>&1
  rc=$?
  [[ $rc -ne 0 ]] && status=1
  note "peers vs ours (suite peers): rc $rc in $((SECONDS - t0)) s (peers*.log, peers-table.txt, peers.tgz)"
  peers_table=$(cat "$out/peers-table.txt" 2>/dev/null)
fi

# The CPU references must give the golden fixture's bits with this machine's compiler and CPU too.
if ! skipped golden && [[ -x $build/sinkbench ]]; then
  t0=$SECONDS
  "$build/sinkbench" run --suite "$root/cases/suites/golden.yaml" --device cpu --keep-arrays \
    --no-report -o "$out/golden-run.h5" >"$out/golden-run.log" 2>&1
  "$build/sinkbench" diff "$root/cases/golden/smoke.h5" "$out/golden-run.h5" \
    >"$out/golden-diff.log" 2>&1
  rc=$?
  [[ $rc -ne 0 ]] && status=1
  note "golden diff on this machine's toolchain: rc $rc in $((SECONDS - t0)) s (golden-diff.log)"
  golden_tail=$(tail -n 12 "$out/golden-diff.log")
fi

# The device hands back at most 8 files: bundle the logs.
(cd "$out" && tar czf logs.tgz ./*.log ./*.txt ./*.json 2>/dev/null && rm -f ./*.log ./*.txt ./*.json) || true
echo
echo "---- summary ----"
printf '%s\n' "${summary[@]}"
[[ -n ${golden_tail:-} ]] && printf '%s\n' "$golden_tail"
[[ -n ${cli_tail:-} ]] && printf '%s\n' "$cli_tail"
[[ -n ${peers_table:-} ]] && printf '%s\n' "$peers_table"
[[ -n ${bench_table:-} ]] && printf '%s\n' "$bench_table"
[[ -n ${paged_table:-} ]] && printf '%s\n' "$paged_table"
[[ -n ${bwd_table:-} ]] && printf '%s\n' "$bwd_table"
[[ -n ${peers_bwd_table:-} ]] && printf '%s\n' "$peers_bwd_table"
[[ -n ${ratio_table:-} ]] && printf '%s\n' "$ratio_table"
[[ -n ${ncu_table:-} ]] && printf '%s\n' "$ncu_table"
exit $status
