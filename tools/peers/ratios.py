#!/usr/bin/env python3
"""tools/peers/ratios.py — ours against the peers measured in the same call: joins the Google
Benchmark JSON of bench_tiled_cuda / bench_paged_cuda / bench_tiled_bwd_cuda (counters median_ms
or median_us) with the JSON of tools/peers/fwd_peers.py or bwd_peers.py by benchmark name and
prints one markdown table of medians and speed ratios (peer time / our time: above 1 means ours
is faster), beside the targets.

    python3 tools/peers/ratios.py PEERS.json BENCH.json [BENCH.json ...]"""
import json
import sys

# What each decode shape's ratio to the sink-less SDPA must reach (bench/RESULTS.md).
DECODE_TARGETS = {
    "flash_paged_cuda/B64/L8192/h64_8": 0.95,
    "flash_paged_cuda/B16/L32768/h64_8": 0.95,
    "flash_paged_cuda/B1/L131072/h64_8": 0.9,
}
PEERS = ("sdpa-nosink", "flex-lse")


def target_of(name):
    """The target of a shape as the table states it, or '-'."""
    if name in DECODE_TARGETS:
        return f">= {DECODE_TARGETS[name]}x sdpa"
    if name.startswith("tiled_cuda_bwd/"):
        if "/win128" in name:
            return "<= 0.25 ms (S 8192); >= 1.0x flex"
        return ">= 1.0x flex (goal: >= 1.0x sdpa)"
    return ">= 1.0x sdpa" if "causal" in name else "-"


def base_name(name):
    """The registered name, without Google Benchmark's /min_time:, /iterations:, /manual_time."""
    return "/".join(p for p in name.split("/") if ":" not in p and p != "manual_time")


def our_medians(paths):
    out = {}
    for path in paths:
        with open(path) as f:
            for b in json.load(f).get("benchmarks", []):
                if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                    continue
                if "median_ms" in b:
                    out[base_name(b["name"])] = b["median_ms"]
                elif "median_us" in b:
                    out[base_name(b["name"])] = b["median_us"] * 1e-3
    return out


def main():
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 else 2
    with open(sys.argv[1]) as f:
        peers = json.load(f)
    ours = our_medians(sys.argv[2:])
    head = "| shape | ours ms |" + "".join(f" {p} ms | ours vs {p} |" for p in PEERS) + " target |"
    print("# ours against the peers of the same call (ratio = peer time / our time)")
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for name, ms in ours.items():
        if name not in peers:
            continue
        row = f"| {name} | {ms:.4f} |"
        for p in PEERS:
            pm = peers[name].get(p)
            row += f" {pm:.4f} | {pm / ms:.2f}x |" if pm else " - | - |"
        print(row + f" {target_of(name)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
