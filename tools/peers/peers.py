"""The peers: PyTorch's own attention paths, each as prepare(case, q, k, v, sinks) -> forward,
where forward() -> (o [B, Sq, Hq, D] in the case dtype, lse [B, Hq, Sq] fp32 or None).
prepare() does the untimed work (masks, block masks, K/V layout); forward() is what is timed.
A peer that cannot run a case raises Unsupported with the reason."""
import inspect
import math
import types

import torch
import torch.nn.functional as F

from exchange import Case, dense_mask, visible


class Unsupported(Exception):
    pass


def _reference(q, k, v, sinks, allowed, scale):
    """Sink attention in float64 for the self-checks: q [B, H, Sq, D], k/v with the same heads."""
    s = (q.double() @ k.double().transpose(-1, -2)) * scale
    s = s.masked_fill(~allowed, -math.inf)
    sink = sinks.double().view(1, -1, 1, 1).expand(*s.shape[:3], 1)
    lse = torch.logsumexp(torch.cat([s, sink], dim=-1), dim=-1)
    return torch.exp(s - lse.unsqueeze(-1)) @ v.double(), lse


def _tiny(dtype, device, sinks_value=None, hq=4, hkv=2, s=96, d=64):
    g = torch.Generator(device="cpu").manual_seed(7)
    q, k, v = (torch.randn(1, h, s, d, generator=g).to(device, dtype) for h in (hq, hkv, hkv))
    sinks = (torch.randn(hq, generator=g) * 4 if sinks_value is None
             else torch.full((hq,), sinks_value)).to(device, dtype)
    allowed = torch.ones(s, s, dtype=torch.bool, device=device).tril()
    return q, k, v, sinks, allowed


class HfEager:
    """transformers' GPT-OSS eager attention: logits materialised, sink column concatenated,
    softmax in the storage dtype, sink column dropped, P @ V. It returns no lse."""
    name, family = "hf-eager", "eager_concat"

    def __init__(self, device):
        try:
            from transformers.models.gpt_oss.modeling_gpt_oss import eager_attention_forward
        except Exception as e:  # any import failure means the peer is absent, not a crash
            raise Unsupported(f"cannot import transformers' GPT-OSS eager attention: {e}")
        params = list(inspect.signature(eager_attention_forward).parameters)
        print(f"# hf-eager: eager_attention_forward{inspect.signature(eager_attention_forward)}")
        if params[:6] != ["module", "query", "key", "value", "attention_mask", "scaling"]:
            raise Unsupported(f"eager_attention_forward takes {params}; expected (module, query, "
                              "key, value, attention_mask, scaling, ...)")
        self.fn, self.device = eager_attention_forward, device
        self.neg_inf_sinks_ok = self._self_check()

    def _call(self, q, k, v, sinks, additive, scale):
        # The attributes eager_attention_forward reads from GptOssAttention, nothing more.
        module = types.SimpleNamespace(sinks=sinks, num_key_value_groups=q.shape[1] // k.shape[1],
                                       training=False)
        out, _ = self.fn(module, q, k, v, additive, scale, dropout=0.0)
        return out

    def _self_check(self):
        """Checks the wiring on a tiny fp32 problem with sinks, and whether sinks = -inf (no sink)
        gives plain softmax attention. Returns the latter."""
        results = {}
        for label, sv in (("sinks", None), ("sinks=-inf", -math.inf)):
            q, k, v, sinks, allowed = _tiny(torch.float32, self.device, sv)
            additive = self._additive(allowed, torch.float32)
            got = self._call(q, k, v, sinks, additive, 0.125).transpose(1, 2)
            rep = q.shape[1] // k.shape[1]
            want, _ = _reference(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1),
                                 sinks, allowed, 0.125)
            err = (got.double() - want).abs().max().item()
            results[label] = err < 1e-4
            print(f"# hf-eager self-check ({label}): max |o - reference| = {err:.2e} "
                  f"{'ok' if results[label] else 'WRONG'}")
        if not results["sinks"]:
            raise Unsupported("eager_attention_forward disagrees with the reference on a tiny "
                              "case with sinks (see the self-check line)")
        return results["sinks=-inf"]

    @staticmethod
    def _additive(allowed, dtype):
        # 0 where visible, -inf where masked, [1, 1, Sq, Sk] (broadcast over batch).
        z = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
        return z.masked_fill(~allowed, -math.inf)[None, None]

    def prepare(self, case, q, k, v, sinks):
        if not case.has_sink and not self.neg_inf_sinks_ok:
            raise Unsupported("eager_attention_forward gives wrong or NaN output with sinks = "
                              "-inf, so it cannot run a case without sinks")
        # Logits, logits + mask, the concatenated copy, its max-shifted copy and the softmax:
        # about five [B, Hq, Sq, Sk + 1] tensors at the peak.
        need = 5 * case.batch * case.hq * case.sq * (case.sk + 1) * q.element_size()
        free, _ = torch.cuda.mem_get_info()
        if need > free:
            raise Unsupported(f"needs ~{need / 2**30:.0f} GiB for [B, Hq, Sq, Sk] logits and "
                              f"their copies, {free / 2**30:.0f} GiB free")
        additive = self._additive(dense_mask(case, q.device), q.dtype)
        return lambda: (self._call(q, k, v, sinks, additive, case.scale), None)


class FlexLse:
    """torch's flex_attention (compiled) with return_lse, then the sink folded in afterwards as
    transformers does for GPT-OSS: lse' = logaddexp(lse, sink), o *= exp(lse - lse'), in fp32."""
    name, family = "flex-lse", "lse_renorm"

    def __init__(self, device):
        try:
            from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        except Exception as e:
            raise Unsupported(f"cannot import torch.nn.attention.flex_attention: {e}")
        import torch._dynamo
        # One compiled graph per (shape, mask); the default limit of 8 would silently fall back
        # to the uncompiled path, which materialises the scores and is very slow.
        for knob in ("cache_size_limit", "recompile_limit"):
            if hasattr(torch._dynamo.config, knob):
                setattr(torch._dynamo.config, knob, 256)
        self.flex = torch.compile(flex_attention, dynamic=False)
        self.create_block_mask, self.device = create_block_mask, device
        self.block_masks = {}
        self.lse_factor = self._lse_base()

    def _block_mask(self, case):
        # Reused across cases of one shape and mask: a new mask_mod would force a recompile.
        key = (case.sq, case.sk, case.mask, case.window, case.sink_tokens)
        if key not in self.block_masks:
            rule = visible(case)
            self.block_masks[key] = self.create_block_mask(
                lambda b, h, i, j: rule(i, j), None, None, case.sq, case.sk, device=self.device)
        return self.block_masks[key]

    def _lse_base(self):
        """flex's lse has been natural log in recent torch; the kernel works in base 2, so check
        which one this version returns rather than trust it. Returns the factor to natural log."""
        # bf16 and 256 rows: the case flex is built for (fp32 or short rows may have no kernel).
        q, k, v, sinks, allowed = _tiny(torch.bfloat16, self.device, -math.inf, s=256)
        c = Case(id="selfcheck", label="selfcheck", dtype=torch.float32, mask="causal", window=0,
                 sink_tokens=0, batch=1, sq=q.shape[2], sk=k.shape[2], varlen=False,
                 hq=q.shape[1], hkv=k.shape[1], d=q.shape[3], scale=0.125, has_sink=False,
                 o_shape=(), lse_shape=())
        o, lse = self.flex(q, k, v, block_mask=self._block_mask(c), scale=0.125, enable_gqa=True,
                           return_lse=True)
        rep = q.shape[1] // k.shape[1]
        want_o, want = _reference(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1),
                                  sinks, allowed, 0.125)
        err_e = (lse.double() - want).abs().max().item()
        err_2 = (lse.double() * math.log(2) - want).abs().max().item()
        err_o = (o.double() - want_o).abs().max().item()
        factor = 1.0 if err_e <= err_2 else math.log(2)
        # lse: fp32 arithmetic on the same bf16 inputs; o: one bf16 rounding of values ~1.
        ok = min(err_e, err_2) < 1e-3 and err_o < 2e-2
        print(f"# flex-lse self-check: lse is {'natural' if factor == 1.0 else 'base-2'} log "
              f"(max error {min(err_e, err_2):.1e}; other base {max(err_e, err_2):.1e}), "
              f"max |o - reference| {err_o:.1e} {'ok' if ok else 'WRONG'}")
        if not ok:
            raise Unsupported("flex_attention disagrees with the reference on a tiny case (see "
                              "the self-check line)")
        return factor

    def prepare(self, case, q, k, v, sinks):
        bm = self._block_mask(case)
        sink = sinks.float().view(1, -1, 1)

        def forward():
            o, lse = self.flex(q, k, v, block_mask=bm, scale=case.scale, enable_gqa=True,
                               return_lse=True)
            lse = lse.float() * self.lse_factor
            total = torch.logaddexp(lse, sink)
            # A row with no visible key and no sink: total = -inf; its o is 0, not NaN.
            w = torch.where(torch.isneginf(total), 0.0, torch.exp(lse - total))
            o = (o.float() * w.unsqueeze(-1)).to(q.dtype)
            return o.transpose(1, 2), total

        try:
            forward()  # compiles for this shape and mask, outside the timed region
        except Exception as e:
            # Inductor has no flex kernel for some ragged shapes (seen: 113 x 203 in torch 2.11):
            # the peer cannot run the case, which is a skip with the reason, not our failure.
            if "NoValidChoicesError" not in f"{type(e).__name__}: {e}":
                raise
            raise Unsupported(f"torch.compile found no flex_attention kernel for Sq {case.sq} x "
                              f"Sk {case.sk} (NoValidChoicesError)") from None
        return forward


class SdpaNoSink:
    """torch's scaled_dot_product_attention, which has no sinks: a speed ceiling for a fused
    kernel, and wrong wherever a sink matters (`check` says so; that is the point)."""
    name, family = "sdpa-nosink", "external-nosink"

    def __init__(self, device):
        self.device = device

    def prepare(self, case, q, k, v, sinks):
        # K/V repeated to Hq heads outside the timed region: SDPA's GQA support depends on the
        # backend the mask selects, and the repeat is a layout step, not attention.
        k = k.repeat_interleave(case.groups, dim=1)
        v = v.repeat_interleave(case.groups, dim=1)
        allowed = dense_mask(case, q.device)
        if case.mask == "causal" and case.sq == case.sk:
            kw = {"is_causal": True}  # SDPA's causal is top-left aligned: only for Sq == Sk
        elif bool(allowed.all()):
            kw = {}
        else:
            kw = {"attn_mask": allowed[None, None]}
        del sinks
        return lambda: (F.scaled_dot_product_attention(q, k, v, scale=case.scale, **kw)
                        .transpose(1, 2), None)


ALL = {p.name: p for p in (HfEager, FlexLse, SdpaNoSink)}
