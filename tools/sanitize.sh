#!/usr/bin/env bash
# tools/sanitize.sh — the hardening check (docs/hardening.md): configures a clang build with
# -DSINKBENCH_SANITIZE=address,undefined and the libFuzzer harnesses (-DSINKBENCH_FUZZ=ON) in
# ${SINKBENCH_SAN_BUILD:-build-san}, builds it, runs the CPU tests under ASan/UBSan, then runs
# each fuzz harness for FUZZ_SECONDS (default 60; 0 skips fuzzing) from its committed seed
# corpus. Exits non-zero on a failed test or any fuzzer finding (crash, leak, timeout, OOM);
# the reproducer is left in ${build}/fuzz/findings/. Extra arguments go to ctest (e.g. -R cases).
#   SAN_TARGETS     build only these targets; their *_test binaries are run directly instead of
#                   the whole CPU suite (CI: a subset that fits its time, docs/hardening.md)
#   SAN_HARNESSES   the fuzz harnesses to run (default: all three)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SINKBENCH_SAN_BUILD:-$root/build-san}
seconds=${FUZZ_SECONDS:-60}
read -r -a harnesses <<<"${SAN_HARNESSES:-results_reader suite_parser exchange_reader}"
read -r -a targets <<<"${SAN_TARGETS:-}"

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSINKBENCH_CUDA=OFF -DSINKBENCH_SANITIZE=address,undefined -DSINKBENCH_FUZZ=ON
fi
SECONDS=0
if ((${#targets[@]})); then
  cmake --build "$build" --target "${targets[@]}"
else
  cmake --build "$build"
fi
echo "sanitize: build $SECONDS s" >&2

# Leak checking stays on; HDF5's own free lists are released at exit, so none are expected.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
SECONDS=0
if ((${#targets[@]})); then
  for t in "${targets[@]}"; do
    [[ $t == *_test ]] && "$build/tests/$t"
  done
else
  ctest --test-dir "$build" -L cpu --output-on-failure -j"$(nproc)" "$@"
fi
echo "sanitize: cpu tests $SECONDS s" >&2

[ "$seconds" -gt 0 ] || exit 0
findings=$build/fuzz/findings
mkdir -p "$findings"
status=0
for h in "${harnesses[@]}"; do
  corpus=$build/fuzz/corpus/$h
  mkdir -p "$corpus"
  # -max_total_time bounds the run; new inputs go to the scratch corpus, seeds stay read-only.
  if ! "$build/fuzz/${h}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$findings/$h-" "$corpus" \
      "$root/tests/fuzz/corpus/$h" 2>"$build/fuzz/$h.log"; then
    echo "sanitize: $h found a problem; see $build/fuzz/$h.log and $findings" >&2
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$build/fuzz/$h.log" |
    sed "s/^/sanitize: $h /" >&2
done
exit $status
