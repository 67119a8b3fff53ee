#!/usr/bin/env bash
# tools/peers/check_peers.sh SINKBENCH OUT [WORK] — the `peers` step of tools/gpu-check.sh, on a
# GPU machine with PyTorch: exports the suite cases/suites/peers.yaml, runs the peers
# (run_peers.py), judges them with `sinkbench check`, runs our CUDA implementations on the same
# cases, merges both into one results file (peers-side-by-side.h5), renders its report, and
# prints the side-by-side table (table.py).
#   SINKBENCH  a sinkbench built with SINKBENCH_CUDA=ON
#   OUT        logs (peers-*.log), the table (peers-table.txt) and peers.tgz (the merged file, both
#              inputs and the report; the exchange file with its arrays is large and stays in WORK)
#   WORK       scratch folder for the exchange file (default: next to SINKBENCH, peers/)
#   PEERS_SUITE, PEERS_ARGS   another suite, extra run_peers.py arguments (e.g. --iters 50)
# Exit status 0 when everything ran and every peer that implements sinks passed (sdpa-nosink's
# failures are expected and only counted), 1 otherwise.
set -uo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 SINKBENCH OUT [WORK]" >&2
  exit 2
fi
sinkbench=$1
out=$2
work=${3:-$(dirname "$sinkbench")/peers}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${PEERS_SUITE:-$here/../../cases/suites/peers.yaml}
mkdir -p "$out" "$work"
rm -rf "$work/exchange.h5" "$work/peers-check.h5" "$work/peers-ours.h5"* "$work/peers-report" \
  "$work/peers-side-by-side.h5"
status=0
step() {  # name, log, command...: runs it, prints its exit status, returns it
  local name=$1 log=$2
  shift 2
  local t0=$SECONDS
  "$@" >"$out/$log" 2>&1
  local rc=$?
  echo "peers: $name: rc $rc in $((SECONDS - t0)) s ($log)"
  return $rc
}

if ! step export peers-export.log timeout 600 "$sinkbench" export --suite "$suite" \
    -o "$work/exchange.h5"; then
  tail -5 "$out/peers-export.log"
  exit 1
fi
# 1: a peer crashed on a case (its row is an error in check); 2: bad input. Either fails.
# shellcheck disable=SC2086
step run_peers peers-run.log timeout 900 env PYTHONUNBUFFERED=1 python3 "$here/run_peers.py" \
  "$work/exchange.h5" ${PEERS_ARGS:-} || status=1
grep -E "^(# |hf-eager|flex-lse|sdpa-nosink)" "$out/peers-run.log" | grep -vE " ok " | head -20
# check exits 1 whenever a row fails, which sdpa-nosink does by design: table.py judges the rows.
step check peers-check.log timeout 600 "$sinkbench" check "$work/exchange.h5" \
  -o "$work/peers-check.h5"
[[ $? -ge 2 || ! -f $work/peers-check.h5 ]] && status=1
step ours peers-ours.log timeout 600 "$sinkbench" run --suite "$suite" --device cuda \
  --no-report -o "$work/peers-ours.h5" || status=1
# report.md needs nothing else; index.html inlines the vega bundles of `npm ci` in reports/web,
# which a GPU machine without network may lack: then empty stand-ins keep report.md coming and
# the chart page is left out.
web=${SINKBENCH_WEB_DIR:-$here/../../reports/web/node_modules}
web_args=()
if [[ ! -f $web/vega/build/vega.min.js ]]; then
  web_args=(--web "$work/no-web")
  for b in vega vega-lite vega-embed; do
    mkdir -p "$work/no-web/$b/build" && : >"$work/no-web/$b/build/$b.min.js"
  done
fi
# One results file with ours and the peers side by side: merge joins runs of other
# implementations over the same cases (one case row, every implementation's result).
step merge peers-merge.log "$sinkbench" merge "$work/peers-ours.h5" "$work/peers-check.h5" \
  -o "$work/peers-side-by-side.h5" || status=1
step report peers-report.log "$sinkbench" report "$work/peers-side-by-side.h5" \
  -o "$work/peers-report" "${web_args[@]}" || status=1
[[ ${#web_args[@]} -gt 0 ]] && rm -f "$work/peers-report/index.html" &&
  echo "peers: no vega bundles in $web: report.md only, no index.html"
if [[ -f $work/peers-check.h5 ]]; then
  ours=()
  [[ -f $work/peers-ours.h5 ]] && ours=("$work/peers-ours.h5")
  python3 "$here/table.py" "$work/peers-check.h5" "${ours[@]}" >"$out/peers-table.txt" 2>&1 ||
    status=1
  cat "$out/peers-table.txt"
fi
(cd "$work" && tar czf "$out/peers.tgz" peers-side-by-side.h5 peers-check.h5 peers-ours.h5 \
  peers-report 2>/dev/null)
exit $status
