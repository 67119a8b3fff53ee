#!/usr/bin/env python3
"""Runs PyTorch's attention paths (tools/peers/README.md) on the cases of a `sinkbench export`
file and writes /outputs/<peer>/<case_id>/{o, lse} with the median forward time, for
`sinkbench check` to judge (docs/external.md).

    python3 tools/peers/run_peers.py EXPORT.h5 [--peers hf-eager,flex-lse,sdpa-nosink]
                                               [--warmup 3] [--iters 20]

Exit status: 0 when every (peer, case) ran or was skipped with a reason, 1 when a peer failed
on a case (its output is left out, so `check` reports it), 2 on bad arguments or input."""
import argparse
import os
import statistics
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h5py  # noqa: E402
import torch  # noqa: E402

from exchange import ExchangeError, case_of, inputs, reset, text, write  # noqa: E402
from grads import NoGradients, backward, grad_inputs, write_grads  # noqa: E402
from peers import ALL, Unsupported  # noqa: E402

ALIASES = {"eager": "hf-eager", "flex": "flex-lse", "sdpa": "sdpa-nosink"}


def timed(forward, warmup, iters, flush):
    """Median device seconds of forward() over `iters` runs, L2 flushed before each (so inputs
    come from HBM, as in a model where other layers ran in between). The first call compiles and
    autotunes where the peer does; its result is the one returned."""
    result = forward()
    for _ in range(max(warmup - 1, 0)):
        forward()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(iters):
        flush.zero_()  # queued before `start`: not timed
        start.record()
        forward()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return result, statistics.median(times)


def run_one(peer, case, tensors, g, args, flush):
    """One peer on one case: outputs into g, returns the median seconds. Its tensors are freed
    when it returns or raises (out of memory included)."""
    forward = peer.prepare(case, *tensors)
    (o, lse), seconds = timed(forward, args.warmup, args.iters, flush)
    write(g, case, o, lse, seconds)
    return seconds


def l2_flush_buffer(device):
    props = torch.cuda.get_device_properties(device)
    l2 = getattr(props, "L2_cache_size", 0) or 64 << 20  # older torch: assume 64 MiB
    return torch.empty(2 * l2 // 4 + 1, dtype=torch.float32, device=device)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="exchange file written by `sinkbench export` (opened r+)")
    ap.add_argument("--peers", default="hf-eager,flex-lse,sdpa-nosink",
                    help=f"comma-separated, of {', '.join(ALL)} (or eager, flex, sdpa)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed forwards first (>= 1)")
    ap.add_argument("--iters", type=int, default=20, help="timed forwards (>= 1)")
    args = ap.parse_args()
    names = [ALIASES.get(n.strip(), n.strip()) for n in args.peers.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown or not names or args.iters < 1 or args.warmup < 1:
        ap.error(f"--peers {args.peers!r}: expected some of {', '.join(ALL)}; "
                 "--warmup and --iters must be >= 1")
    if not torch.cuda.is_available():
        print("run_peers: no CUDA device visible to torch; these peers need one", file=sys.stderr)
        return 2
    device = torch.device("cuda")
    print(f"# torch {torch.__version__}, {torch.cuda.get_device_name(device)}, "
          f"warmup {args.warmup}, iters {args.iters}, L2 flushed between iterations")

    try:
        f = h5py.File(args.file, "r+")
    except OSError as e:
        print(f"run_peers: {args.file}: cannot open as HDF5 for writing: {e}", file=sys.stderr)
        return 2
    fmt = text(f.attrs.get("format", ""))
    if fmt != "sinkbench-external" or int(f.attrs.get("format_version", 0)) != 1:
        print(f"run_peers: {args.file}: format {fmt!r} version {f.attrs.get('format_version')}; "
              "expected a `sinkbench export` file (format sinkbench-external, version 1)",
              file=sys.stderr)
        return 2

    flush = l2_flush_buffer(device)
    peers, absent = [], {}
    for name in names:
        try:
            peers.append(ALL[name](device))
        except Exception as e:  # Unsupported, or a library that breaks: skip the peer, say why
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            absent[name] = f"peer unavailable: {first}"
            print(f"{name}: skipped on every case: {first}")
            if not isinstance(e, Unsupported):
                traceback.print_exc()
    groups = {}
    for name in names:
        cls = ALL[name]
        groups[name] = f.require_group("outputs").require_group(name)
        groups[name].attrs["family"] = cls.family
        groups[name].attrs["tool"] = (f"tools/peers/run_peers.py (torch {torch.__version__}, "
                                      f"{torch.cuda.get_device_name(device)})")

    failures = 0
    with torch.no_grad():
        for cid in sorted(f["cases"]):
            try:
                case = case_of(f["cases"][cid])
            except ExchangeError as e:
                print(f"run_peers: {e}", file=sys.stderr)
                return 2
            skip_all = "varlen (packed) cases are not run by these peers" if case.varlen else None
            q = k = v = sinks = do = dlse = None
            if skip_all is None:
                q, k, v, sinks = inputs(f["cases"][cid], case, device)
                do, dlse = grad_inputs(f["cases"][cid], case, device)
            for name in names:
                g = reset(groups[name], cid)
                reason = skip_all or absent.get(name)
                peer = next((p for p in peers if p.name == name), None)
                failed = False
                try:
                    if reason is None:
                        seconds = run_one(peer, case, (q, k, v, sinks), g, args, flush)
                except Unsupported as e:
                    reason = str(e)
                except torch.cuda.OutOfMemoryError as e:
                    reason = f"out of memory: {str(e).splitlines()[0][:160]}"
                except Exception as e:  # a peer's bug: reported, the run goes on
                    failures += 1
                    g.attrs["error"] = f"{type(e).__name__}: {e}"
                    print(f"{name:12s} {case.label:56s} ERROR {type(e).__name__}: {e}")
                    traceback.print_exc()
                    failed = True
                if failed:
                    pass  # no o: `check` reports this case as an error of the peer
                elif reason is None:
                    print(f"{name:12s} {case.label:56s} ok   {seconds * 1e3:10.3f} ms", flush=True)
                    if do is not None:  # grad: do case: autograd's gradients, untimed
                        try:
                            write_grads(g, case, *backward(peer, case, (q, k, v, sinks), do, dlse))
                        except (NoGradients, Unsupported, torch.cuda.OutOfMemoryError) as e:
                            g.attrs["grad_skipped"] = str(e).splitlines()[0][:200]
                            print(f"{name:12s} {case.label:56s} no gradients: "
                                  f"{g.attrs['grad_skipped']}", flush=True)
                else:
                    g.attrs["skipped"] = reason
                    print(f"{name:12s} {case.label:56s} skip: {reason}", flush=True)
                torch.cuda.empty_cache()  # the next peer or case gets the memory back
            del q, k, v, sinks
    f.close()
    print(f"# {args.file}: outputs written; judge them with `sinkbench check {args.file} -o ...`"
          + (f"; {failures} peer failure(s) above" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
