#!/usr/bin/env python3
"""tools/peers/bwd_peers.py — backward-pass timings of PyTorch's attention paths on the shapes of
bench/bench_tiled_bwd_cuda.cpp (bf16, B 1, Hq 64, Hkv 8, causal or window 128), so that the
tiled/cuda backward is compared with peers measured on the same GPU in the same call:
  sdpa-nosink  F.scaled_dot_product_attention without sinks (enable_gqa), causal only;
  flex-lse     flex_attention compiled, return_lse, the sink folded in as transformers does
               (lse' = logaddexp(lse, sink), o *= exp(lse - lse'), fp32), through autograd,
               the sinks a leaf that gets its gradient;
  eager        transformers' GPT-OSS eager graph (logits, sink column concatenated, softmax in
               the dtype, autograd), where its logits fit in memory.
Each timing is the median of --iters backward passes (torch.autograd.grad of the outputs with a
fixed random do), timed with CUDA events after a write of twice the L2 (outside the timed
region); the forward is run once outside the timed region and its graph kept. FLOPs = 2.5 x 4 D
x visible pairs (as cases/flop_model.h). Prints one markdown table and, with --json, writes
{bench name: {peer: median ms}} keyed by bench_tiled_bwd_cuda's names (tools/peers/ratios.py
joins it with that benchmark's JSON)."""
import argparse
import json
import math

import torch
import torch.nn.functional as F


def bench_name(d, s, window):
    """The name bench_tiled_bwd_cuda registers for the shape (without its timing suffixes)."""
    return f"tiled_cuda_bwd/d{d}/S{s}/{'win' + str(window) if window else 'causal'}"


def visible_pairs(s, window):
    if window:
        return sum(min(i + 1, window) for i in range(s))
    return s * (s + 1) // 2


def time_backward(outputs, inputs, grads, iters, warmup):
    flush = torch.empty(int(2 * torch.cuda.get_device_properties(0).L2_cache_size // 4) + 1,
                        dtype=torch.float32, device="cuda")
    times = []
    for it in range(warmup + iters):
        flush.fill_(float(it))
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.autograd.grad(outputs, inputs, grads, retain_graph=True)
        stop.record()
        torch.cuda.synchronize()
        if it >= warmup:
            times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def make_inputs(s, d, hq=64, hkv=8, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    q = torch.randn(1, hq, s, d, device="cuda", dtype=torch.bfloat16, generator=g)
    k = torch.randn(1, hkv, s, d, device="cuda", dtype=torch.bfloat16, generator=g)
    v = torch.randn(1, hkv, s, d, device="cuda", dtype=torch.bfloat16, generator=g)
    sinks = (4 + 4 * torch.rand(hq, device="cuda", generator=g)).to(torch.bfloat16).float()
    do = torch.randn(1, hq, s, d, device="cuda", dtype=torch.bfloat16, generator=g)
    return [t.requires_grad_() for t in (q, k, v, sinks)], do


def sdpa(s, d, window, args):
    if window:
        return None, "window: no sink-less flash path with a window in SDPA"
    (q, k, v, _), do = make_inputs(s, d)
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    return time_backward([o], [q, k, v], [do], args.iters, args.warmup), ""


_flex = {}


def flex_lse(s, d, window, args):
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    import torch._dynamo
    torch._dynamo.config.cache_size_limit = 256
    if "f" not in _flex:
        _flex["f"] = torch.compile(flex_attention, dynamic=False)
    w = window

    def rule(b, h, i, j):
        return (j <= i) & (i - j < w) if w else j <= i

    bm = create_block_mask(rule, None, None, s, s, device="cuda")
    (q, k, v, sinks), do = make_inputs(s, d)
    o, lse = _flex["f"](q, k, v, block_mask=bm, scale=1 / math.sqrt(d), enable_gqa=True,
                        return_lse=True)
    total = torch.logaddexp(lse.float(), sinks.view(1, -1, 1))
    o = (o.float() * torch.exp(lse.float() - total).unsqueeze(-1)).to(q.dtype)
    return time_backward([o], [q, k, v, sinks], [do], args.iters, args.warmup), ""


def eager(s, d, window, args):
    free, _ = torch.cuda.mem_get_info()
    if 64 * s * s * 2 * 6 > free:
        return None, "logits do not fit"
    (q, k, v, sinks), do = make_inputs(s, d)
    kk, vv = k.repeat_interleave(8, 1), v.repeat_interleave(8, 1)
    logits = torch.matmul(q, kk.transpose(2, 3)) / math.sqrt(d)
    i = torch.arange(s, device="cuda").view(-1, 1)
    j = torch.arange(s, device="cuda").view(1, -1)
    allowed = (j <= i) & ((i - j < window) if window else True)
    logits = logits + torch.where(allowed, 0.0, -math.inf).to(logits.dtype)
    sink = sinks.to(q.dtype).view(1, -1, 1, 1).expand(1, 64, s, 1)
    combined = torch.cat([logits, sink], dim=-1)
    combined = combined - combined.max(dim=-1, keepdim=True).values
    probs = F.softmax(combined, dim=-1, dtype=combined.dtype)[..., :-1]
    o = torch.matmul(probs, vv)
    return time_backward([o], [q, k, v, sinks], [do], args.iters, args.warmup), ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--shapes", default="64:4096:0,64:8192:0,64:16384:0,64:8192:128,128:8192:0",
                    help="d:S:window,...")
    ap.add_argument("--peers", default="sdpa,flex,eager")
    ap.add_argument("--json", default="", help="also write {bench name: {peer: ms}} here")
    args = ap.parse_args()
    result = {}
    peers = {"sdpa": ("sdpa-nosink", sdpa), "flex": ("flex-lse", flex_lse), "eager": ("eager", eager)}
    print(f"# peers' backward on {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print("| peer | shape | median ms | TFLOP/s (2.5 x forward) |\n| --- | --- | --- | --- |")
    for spec in args.shapes.split(","):
        d, s, w = (int(x) for x in spec.split(":"))
        flops = 2.5 * 4 * d * 64 * visible_pairs(s, w)
        label = f"B1 S{s} {'win' + str(w) if w else 'causal'} d{d}"
        for key in args.peers.split(","):
            name, fn = peers[key]
            try:
                ms, why = fn(s, d, w, args)
            except Exception as e:  # a peer that cannot run a shape is a skip with the reason
                ms, why = None, f"{type(e).__name__}: {str(e)[:80]}"
            torch.cuda.empty_cache()
            if ms is None:
                print(f"| {name} | {label} | skip: {why} | - |", flush=True)
            else:
                result.setdefault(bench_name(d, s, w), {})[name] = ms
                print(f"| {name} | {label} | {ms:.3f} | {flops / ms * 1e-9:.1f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
