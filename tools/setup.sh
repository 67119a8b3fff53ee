#!/usr/bin/env bash
# tools/setup.sh — idempotent set-up on a fresh Debian/Ubuntu machine: installs the Debian
# packages sinkbench needs (only those missing, after an apt-get update; npm and chromium only
# when no such command exists), installs the report's Vega bundles with `npm ci` in reports/web
# when node_modules is missing, then configures and builds with Ninja into
# ${SINKBENCH_BUILD:-build}. Extra arguments go to CMake's configure step.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SINKBENCH_BUILD:-$root/build}

# clang, its runtime (libFuzzer, ASan, UBSan) and OpenMP are for tools/sanitize.sh (CI runs it).
packages=(cmake ninja-build g++ pkg-config libeigen3-dev libhdf5-dev libcli11-dev libfmt-dev
          nlohmann-json3-dev libyaml-cpp-dev libgtest-dev libbenchmark-dev clang libclang-rt-dev
          libomp-dev python3-h5py)  # python3-h5py: the test that runs docs/external.md's example
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Report assets (npm) and the headless browser that tests the report page.
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -d "$root/reports/web/node_modules" ]; then
  echo "setup: npm ci in reports/web (Vega bundles inlined into reports)" >&2
  (cd "$root/reports/web" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -f "$build/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build "$build"
