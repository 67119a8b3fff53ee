#!/usr/bin/env python3
"""Side-by-side table of the peers (the results file of `sinkbench check`) and, optionally, our
implementations on the same cases (the results file of `sinkbench run`): per case, every peer's
verdict, median ms and TFLOP/s, then our fastest passing implementation; then, for every result
whose backward was judged, its gradient verdict and per gradient the budget used and the floor
ratio (rel_l2 over that of the exactly rounded gradient; docs/policy.md).

    python3 tools/peers/table.py PEERS_RESULTS.h5 [OURS_RESULTS.h5]

Exit status: 1 when a peer failed or errored on a case, except peers whose family is
`external-nosink` (they implement no sinks: failing where the sink matters is expected and only
counted); 0 otherwise; 2 on unreadable input."""
import sys
from collections import defaultdict

import h5py

EXPECTED_TO_FAIL = {"external-nosink"}


def s(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def rows(path):
    """(labels by case id, results rows as dicts) of a results file (docs/results.md)."""
    with h5py.File(path, "r") as f:
        if "results" not in f or "cases" not in f:
            raise ValueError(f"{path}: no /results or /cases table; expected a results file of "
                             "`sinkbench run` or `sinkbench check`")
        labels = {s(c["case_id"]): s(c["label"]) for c in f["cases"][:]}
        res = f["results"][:]
        names = res.dtype.names
        return labels, [{n: (s(r[n]) if isinstance(r[n], bytes) else r[n]) for n in names}
                        for r in res]


def verdict(r):
    return r["status"] + (f" ({r['bound']})" if r["status"] in ("fail", "error") else "")


def speed(r):
    sec = float(r["seconds"])
    if r["status"] not in ("pass", "fail") or sec <= 0:
        return f"{'':>9} {'':>8}"
    return f"{sec * 1e3:9.3f} {float(r['flops']) / sec / 1e12:8.1f}"


GRADS = ("dq", "dk", "dv", "dsinks")


def print_gradients(labels, results):
    """Judged backwards only (grad_status pass or fail; files before schema 2 have none)."""
    judged = [r for r in results if r.get("grad_status") in ("pass", "fail")]
    if not judged:
        return
    print(f"\n{'case':44} {'implementation':28} {'gradients':18}" +
          "".join(f" {g + ' budget/floor':>20}" for g in GRADS))
    for r in sorted(judged, key=lambda r: (labels.get(r["case_id"], r["case_id"]), r["impl"])):
        cells = ""
        for g in GRADS:
            b, f = float(r.get(f"{g}_budget", "nan")), float(r.get(f"{g}_floor_ratio", "nan"))
            cells += f" {'—' if b != b else f'{b:.3g}':>9}/{'—' if f != f else f'{f:.3g}':<10}"
        grad = r["grad_status"] + (f" ({r['grad_bound']})" if r["grad_status"] == "fail" else "")
        print(f"{labels.get(r['case_id'], r['case_id'])[:44]:44} {r['impl'][:28]:28} "
              f"{grad[:18]:18}{cells}")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        labels, peers = rows(argv[1])
        ours = rows(argv[2]) if len(argv) == 3 else ({}, [])
    except (OSError, ValueError, KeyError) as e:
        print(f"table: {e}", file=sys.stderr)
        return 2
    by_case = defaultdict(list)
    for r in peers:
        by_case[r["case_id"]].append(r)
    fastest = {}
    for r in ours[1]:
        if r["status"] == "pass" and float(r["seconds"]) > 0:
            best = fastest.get(r["case_id"])
            if best is None or float(r["seconds"]) < float(best["seconds"]):
                fastest[r["case_id"]] = r

    print(f"{'case':44} {'implementation':28} {'verdict':18} {'ms':>9} {'TFLOP/s':>8}  note")
    bad, expected = defaultdict(int), defaultdict(int)
    for cid in sorted(by_case, key=lambda c: labels.get(c, c)):
        for r in sorted(by_case[cid], key=lambda r: r["impl"]):
            note = r["detail"][:70] if r["status"] != "pass" else ""
            print(f"{labels.get(cid, cid)[:44]:44} {r['impl'][:28]:28} {verdict(r)[:18]:18} "
                  f"{speed(r)}  {note}")
            if r["status"] in ("fail", "error"):
                (expected if r["family"] in EXPECTED_TO_FAIL else bad)[r["impl"]] += 1
        if cid in fastest:
            r = fastest[cid]
            print(f"{'':44} {('ours: ' + r['impl'])[:28]:28} {verdict(r)[:18]:18} {speed(r)}")
        elif ours[1]:
            print(f"{'':44} {'ours':28} {'no passing timed row':18}")
    print_gradients(labels, peers + [r for r in ours[1] if r["case_id"] in by_case])
    for impl, n in sorted(expected.items()):
        print(f"{impl}: {n} case(s) fail or error (expected: it implements no sinks)")
    for impl, n in sorted(bad.items()):
        print(f"{impl}: {n} case(s) FAIL or ERROR")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
