#!/usr/bin/env python3
"""tools/peers/fwd_peers.py — forward timings of PyTorch's attention paths on the shapes of
bench/bench_tiled_cuda.cpp (prefill) and bench/bench_paged_cuda.cpp (decode), so that our kernels
are compared with peers measured on the same GPU in the same call (tools/peers/ratios.py joins
the two):
  sdpa-nosink  F.scaled_dot_product_attention without sinks (enable_gqa): causal prefill, and
               decode over a contiguous cache (window decode: over the last 128 keys, as a
               caller would slice them); no window prefill (SDPA has no flash path for it);
  flex-lse     flex_attention compiled, return_lse, the sink folded in as transformers does
               (lse' = logaddexp(lse, sink), o *= exp(lse - lse'), fp32), block-sparse mask.
Each figure is the median of --iters calls timed with CUDA events after a write of twice the L2
(outside the timed region), after --warmup calls (compilation and autotuning included there).
Writes one markdown table to stdout and, with --json, {bench name: {peer: median ms}} keyed by
the benchmark names of our programs."""
import argparse
import json
import math

import torch
import torch.nn.functional as F

HQ, HKV = 64, 8


def median_ms(fn, iters, warmup):
    flush = torch.empty(int(2 * torch.cuda.get_device_properties(0).L2_cache_size // 4) + 1,
                        dtype=torch.float32, device="cuda")
    for _ in range(warmup):
        fn()
    times = []
    for it in range(iters):
        flush.fill_(float(it))
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def tensors(b, sq, sk, d, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    q = torch.randn(b, HQ, sq, d, device="cuda", dtype=torch.bfloat16, generator=g)
    k = torch.randn(b, HKV, sk, d, device="cuda", dtype=torch.bfloat16, generator=g)
    v = torch.randn(b, HKV, sk, d, device="cuda", dtype=torch.bfloat16, generator=g)
    sinks = (4 + 4 * torch.rand(HQ, device="cuda", generator=g)).float()
    return q, k, v, sinks


class Shape:
    """One benchmark shape: prefill (sq == sk, bottom-right = top-left) or decode (sq == 1)."""

    def __init__(self, name, b, sq, sk, d, window):
        self.name, self.b, self.sq, self.sk, self.d, self.window = name, b, sq, sk, d, window


def shapes():
    out = []
    for s in (4096, 8192, 16384):
        out.append(Shape(f"tiled_cuda/d64/B1/S{s}/causal", 1, s, s, 64, 0))
    out.append(Shape("tiled_cuda/d64/B1/S8192/win128", 1, 8192, 8192, 64, 128))
    for s in (4096, 16384):
        out.append(Shape(f"tiled_cuda/d128/B{32768 // s}/S{s}/causal", 32768 // s, s, s, 128, 0))
    for b, l in ((64, 8192), (16, 32768), (1, 131072)):
        out.append(Shape(f"flash_paged_cuda/B{b}/L{l}/h64_8", b, 1, l, 64, 0))
    out.append(Shape("flash_paged_cuda/B64/L8192/h64_8/win128", 64, 1, 8192, 64, 128))
    return out


def sdpa(sh):
    q, k, v, _ = tensors(sh.b, sh.sq, sh.sk, sh.d)
    if sh.sq == 1:
        if sh.window:
            k, v = k[:, :, -sh.window:], v[:, :, -sh.window:]
        return lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    if sh.window:
        return None
    return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


_flex = {}


def flex_lse(sh):
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    import torch._dynamo
    torch._dynamo.config.cache_size_limit = 256
    if "f" not in _flex:
        _flex["f"] = torch.compile(flex_attention, dynamic=False)
    w, off = sh.window, sh.sk - sh.sq  # bottom-right alignment: row i sits at key i + off

    def rule(b, h, i, j):
        pos = i + off
        return (j <= pos) & (pos - j < w) if w else j <= pos

    bm = create_block_mask(rule, None, None, sh.sq, sh.sk, device="cuda")
    q, k, v, sinks = tensors(sh.b, sh.sq, sh.sk, sh.d)
    f = _flex["f"]

    def call():
        o, lse = f(q, k, v, block_mask=bm, scale=1 / math.sqrt(sh.d), enable_gqa=True,
                   return_lse=True)
        total = torch.logaddexp(lse.float(), sinks.view(1, -1, 1))
        return (o.float() * torch.exp(lse.float() - total).unsqueeze(-1)).to(q.dtype)

    return call


PEERS = {"sdpa": ("sdpa-nosink", sdpa), "flex": ("flex-lse", flex_lse)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=30, help="timed calls per figure (median)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed calls first")
    ap.add_argument("--peers", default="sdpa,flex", help="comma list of: " + ",".join(PEERS))
    ap.add_argument("--filter", default="", help="only shapes whose name contains this")
    ap.add_argument("--json", default="", help="also write {bench name: {peer: ms}} here")
    args = ap.parse_args()
    print(f"# peers' forward on {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print("| peer | shape | median ms |\n| --- | --- | --- |")
    result = {}
    for sh in shapes():
        if args.filter not in sh.name:
            continue
        for key in args.peers.split(","):
            name, make = PEERS[key]
            try:
                fn = make(sh)
                ms, why = (median_ms(fn, args.iters, args.warmup), "") if fn else (None, "no path")
            except Exception as e:  # a peer that cannot run a shape is a skip with the reason
                ms, why = None, f"{type(e).__name__}: {str(e)[:80]}"
            torch.cuda.empty_cache()
            if ms is not None:
                result.setdefault(sh.name, {})[name] = ms
            print(f"| {name} | {sh.name} | {f'{ms:.4f}' if ms is not None else 'skip: ' + why} |",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
