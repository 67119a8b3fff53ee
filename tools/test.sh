#!/usr/bin/env bash
# tools/test.sh — set up (tools/setup.sh), build with warnings as errors (SINKBENCH_WERROR), and
# run every CTest test. Tests labelled gpu skip (reported as skipped) where no GPU is present.
# Extra arguments go to ctest, e.g. -L cpu.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SINKBENCH_BUILD:-$root/build}
"$root/tools/setup.sh" -DSINKBENCH_WERROR=ON
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "$@"
