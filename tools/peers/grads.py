"""Gradients of the peers by torch.autograd (docs/external.md, "Gradients"): the loss
L = sum(dO * o) + sum(dlse * lse) through a peer's own forward, on fresh leaf copies of its
inputs, written as /outputs/<peer>/<case_id>/{dq, dk, dv, dsinks} in the exchange layout."""
import numpy as np
import torch

from exchange import load


class NoGradients(Exception):
    """The peer cannot give this case's gradients; the reason goes into `grad_skipped`."""


def grad_inputs(group, case, device):
    """dO as [B, Sq, Hq, D] (the layout of the peers' o) in the case dtype and dL/dlse as
    [B, Hq, Sq] fp32 (None when the case has none); (None, None) for forward-only cases."""
    if "d_o" not in group:
        return None, None
    do = load(group["d_o"]).view(case.batch, case.sq, case.hq, case.d).to(device)
    dlse = None
    if "dlse" in group:
        dlse = torch.from_numpy(group["dlse"][()]).view(case.batch, case.hq, case.sq).to(device)
    return do, dlse


def backward(peer, case, tensors, do, dlse):
    """dq [B*Sq, Hq, D], dk and dv [B*Sk, Hkv, D] (autograd's own dtype and sums over the GQA
    group) and dsinks [Hq] fp32 of the peer on this case."""
    q, k, v, sinks = (t.detach().clone().requires_grad_(True) for t in tensors)
    with torch.enable_grad():
        o, lse = peer.prepare(case, q, k, v, sinks)()
        loss = (o.float() * do.float()).sum()
        if dlse is not None:
            if lse is None:
                raise NoGradients(f"{peer.name} returns no lse: dL/dlse cannot reach it")
            loss = loss + (lse.float() * dlse).sum()
        loss.backward()

    def packed(t, s, h):  # [B, H, S, D] -> the exchange's [B*S, H, D]
        return t.transpose(1, 2).reshape(case.batch * s, h, case.d)

    # A peer that never reads the sinks (sdpa-nosink) has dsinks = 0, which `check` judges.
    dsinks = sinks.grad.float() if sinks.grad is not None else torch.zeros(case.hq)
    return (packed(q.grad, case.sq, case.hq), packed(k.grad, case.sk, case.hkv),
            packed(v.grad, case.sk, case.hkv), dsinks)


def write_grads(g, case, dq, dk, dv, dsinks):
    """dq, dk, dv as exact bits (bf16/fp16) or float32; dsinks float32 when the case has sinks."""
    for name, t in (("dq", dq), ("dk", dk), ("dv", dv)):
        t = t.detach().contiguous().cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            g[name] = t.view(torch.int16).numpy().view(np.uint16)
            g[name].attrs["dtype"] = "bf16" if t.dtype == torch.bfloat16 else "fp16"
        else:
            g[name] = t.float().numpy()
    if case.has_sink:
        g["dsinks"] = dsinks.detach().cpu().numpy().astype(np.float32)
