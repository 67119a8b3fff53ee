"""Reading cases from and writing outputs to a `sinkbench export` file (docs/external.md)."""
from dataclasses import dataclass

import numpy as np
import torch

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def text(value):
    """h5py gives str for variable-length string attributes and bytes for fixed-length ones."""
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)


class ExchangeError(Exception):
    pass


def load(ds):
    """A stored input dataset as a CPU tensor in the case dtype (bf16/fp16 travel as uint16 bits)."""
    if "dtype" not in ds.attrs:
        raise ExchangeError(f"{ds.file.filename}:{ds.name}: no `dtype` attribute; "
                            "expected fp32, bf16 or fp16 as `sinkbench export` writes")
    dt = text(ds.attrs["dtype"])
    a = ds[()]
    want = {"bf16": np.uint16, "fp16": np.uint16, "fp32": np.float32}.get(dt)
    if want is None or a.dtype != want:
        raise ExchangeError(f"{ds.file.filename}:{ds.name}: stored as {a.dtype} with dtype "
                            f"attribute {dt!r}; expected uint16 bits for bf16/fp16 or float32 "
                            "for fp32")
    if dt == "bf16":
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    if dt == "fp16":
        return torch.from_numpy(a.view(np.float16))
    return torch.from_numpy(a)


@dataclass
class Case:
    id: str
    label: str
    dtype: torch.dtype
    mask: str
    window: int
    sink_tokens: int
    batch: int
    sq: int
    sk: int
    varlen: bool
    hq: int
    hkv: int
    d: int
    scale: float
    has_sink: bool
    o_shape: tuple
    lse_shape: tuple

    @property
    def groups(self):
        return self.hq // self.hkv


def case_of(group):
    """The attributes of /cases/<id> that the peers need."""
    a = group.attrs
    name = f"{group.file.filename}:{group.name}"
    try:
        dt = text(a["dtype"])
        if dt not in DTYPES:
            raise ExchangeError(f"{name}: attribute dtype = {dt!r}; expected bf16, fp16 or fp32")
        return Case(id=group.name.rsplit("/", 1)[-1], label=text(a["label"]), dtype=DTYPES[dt],
                    mask=text(a["mask"]), window=int(a["window"]),
                    sink_tokens=int(a["sink_tokens"]), batch=int(a["batch"]),
                    sq=int(a["seqlen_q"]), sk=int(a["seqlen_k"]), varlen=bool(int(a["varlen"])),
                    hq=int(a["heads_q"]), hkv=int(a["heads_kv"]), d=int(a["head_dim"]),
                    scale=float(a["scale"]), has_sink=bool(int(a["has_sink"])),
                    o_shape=tuple(int(x) for x in a["o_shape"]),
                    lse_shape=tuple(int(x) for x in a["lse_shape"]))
    except KeyError as e:
        raise ExchangeError(f"{name}: no attribute {e}; expected a case group written by "
                            "`sinkbench export` (docs/external.md)") from None


def inputs(group, case, device):
    """q [B, Hq, Sq, D], k and v [B, Hkv, Sk, D] (the layout torch's attention functions take)
    and sinks [Hq], from the packed [B*S, H, D] rows of a fixed-length case."""
    def bhsd(name, s, h):
        t = load(group[name])
        want = (case.batch * s, h, case.d)
        if tuple(t.shape) != want:
            raise ExchangeError(f"{group.file.filename}:{group.name}/{name}: shape "
                                f"{tuple(t.shape)}; expected {want} for this case")
        return t.view(case.batch, s, h, case.d).transpose(1, 2).contiguous().to(device)

    q = bhsd("q", case.sq, case.hq)
    k = bhsd("k", case.sk, case.hkv)
    v = bhsd("v", case.sk, case.hkv)
    sinks = load(group["sinks"]).to(device)
    return q, k, v, sinks


def visible(case):
    """The case's mask as a function of (query row, key index) tensors: True where the key is
    visible. Query row i sits at position p = i + Sk - Sq (bottom-right alignment, DESIGN §1)."""
    offset, w, t, kind = case.sk - case.sq, case.window, case.sink_tokens, case.mask
    if kind not in ("none", "causal", "sliding_window", "sink_tokens"):
        raise ExchangeError(f"case {case.id}: mask {kind!r}; expected none, causal, "
                            "sliding_window or sink_tokens")

    def rule(i, j):
        p = i + offset
        if kind == "none":
            return (j >= 0) & (i >= 0)
        causal = j <= p
        if kind == "causal":
            return causal
        window = causal & (j > p - w)
        if kind == "sliding_window":
            return window
        return window | (causal & (j < t))

    return rule


def dense_mask(case, device):
    """[Sq, Sk] bool, True where visible."""
    i = torch.arange(case.sq, device=device).view(-1, 1)
    j = torch.arange(case.sk, device=device).view(1, -1)
    return visible(case)(i, j)


def reset(peer_group, case_id):
    """A fresh /outputs/<peer>/<case_id> (a re-run replaces what an earlier one wrote)."""
    if case_id in peer_group:
        del peer_group[case_id]
    return peer_group.create_group(case_id)


def write(g, case, o, lse, seconds):
    """o in the case's o_shape (bf16/fp16 as exact bits), lse fp32 in lse_shape when given."""
    o = o.contiguous().cpu()
    if o.numel() != int(np.prod(case.o_shape)):
        raise ExchangeError(f"case {case.id}: o has shape {tuple(o.shape)}; expected "
                            f"{case.o_shape} elements")
    o = o.reshape(case.o_shape)
    if o.dtype in (torch.bfloat16, torch.float16):
        g["o"] = o.view(torch.int16).numpy().view(np.uint16)
        g["o"].attrs["dtype"] = "bf16" if o.dtype == torch.bfloat16 else "fp16"
    else:
        g["o"] = o.float().numpy()
    if lse is not None:
        g["lse"] = lse.float().contiguous().cpu().reshape(case.lse_shape).numpy()
    g.attrs["seconds"] = float(seconds)
