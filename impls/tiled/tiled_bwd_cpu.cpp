// impls/tiled/tiled_bwd_cpu.cpp — CPU reference of the tiled family's backward (impls layer): the
// FlashAttention-2 backward with its rounding points. D_i = do_i·o_i − dlse_i in fp32 from the
// rounded o; per key tile, for each query head of the KV group and each query tile, P recomputed
// from the saved lse, P rounded to the dtype before dV += Pᵀ·dO, dS = P (dP − D) in fp32 rounded
// before dQ += dS·K and dK += dSᵀ·Q; fp32 accumulators in a fixed order; dσ reduced per query
// tile, then over tiles. docs/impls/tiled.md ("Backward") lists every rounding and order, for the
// CUDA kernel to match. Plain loops, -ffp-contract=off: identical bits everywhere.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cases/mask.h"
#include "impls/cpu_common.h"
#include "impls/eager_concat/kstep.h"
#include "impls/tiled/tiled.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// What every (sequence, KV head) task reads.
struct BwdCtx {
  const CaseSpec& c;
  const Layout& L;
  const TiledBwdOptions& opt;
  std::vector<float> q, k, v, o, d_o;
  const std::vector<float>& lse;
  const std::vector<float>& dlse;
  const std::vector<float>& sinks;  // empty: no sink in this pass
  float scale;
};

// The visible keys of row i as the backward sees them (its own planted window fault only).
int bwd_ranges(const BwdCtx& x, int64_t i, int64_t sq, int64_t sk, KeyRange out[2]) {
  Faults f;
  f.window_off_by_one = x.opt.faults.window_off_by_one;
  return faulty_visible_ranges(x.c.mask, i, sq, sk, f, out);
}

bool sees(const KeyRange* r, int n, int64_t j) {
  for (int t = 0; t < n; ++t)
    if (j >= r[t].lo && j < r[t].hi) return true;
  return false;
}

bool touches(const KeyRange* r, int n, int64_t j0, int64_t j1) {
  for (int t = 0; t < n; ++t)
    if (r[t].lo < j1 && r[t].hi > j0) return true;
  return false;
}

// FlashAttention-2's preprocessing: D_i = Σ_d do_id o_id in fp32 (d ascending; each product is
// exact for 16-bit inputs) minus dlse_i. `with_dlse` false: the planted dsink_without_dlse.
float row_delta(const BwdCtx& x, int64_t off, float dlse, bool with_dlse) {
  float acc = 0;
  for (int d = 0; d < x.L.head_dim; ++d)
    acc += x.d_o[size_t(off + d)] * x.o[size_t(off + d)];
  return with_dlse ? acc - dlse : acc;
}

// The lse the backward recomputes P from: the saved one, or (planted sinkless_lse) the saved one
// with σ taken out again.
float used_lse(const BwdCtx& x, float lse, int h) {
  if (!x.opt.faults.sinkless_lse || x.sinks.empty()) return lse;
  return lse + std::log1p(-std::exp(x.sinks[size_t(h)] - lse));
}

// Per-thread buffers of one (key tile, query tile).
struct TileWork {
  std::vector<float> pr, dsr;  // [rows][keys] P and dS rounded to the dtype
  std::vector<double> chunk;   // one k-step's exact partial sums
};

struct GroupOut {
  std::vector<float> dq_acc;  // [heads of group][sq][D], fp32 over key tiles
  // Per query head of the group: dσ partial sums of each query tile, in tile order.
  std::vector<std::vector<float>> dsink_tiles;
};

// dk/dv accumulators of one key tile [j0, j1) (fp32, rows of the tile's keys).
struct KeyTileAcc {
  std::vector<float> dk, dv;
};

// One query tile [i0, i1) of query head h against key tile [j0, j1).
void tile_pair(const BwdCtx& x, int s, int h, int hg, int kvh, int64_t i0, int64_t i1, int64_t j0,
               int64_t j1, TileWork& w, KeyTileAcc& acc, GroupOut& out, bool to_dkdv) {
  const Layout& L = x.L;
  const int D = L.head_dim;
  const int64_t sq = L.sq(s), sk = L.sk(s), n = j1 - j0, m = i1 - i0;
  const DType dt = x.c.dtype;
  w.pr.assign(size_t(m * n), 0.0f);
  w.dsr.assign(size_t(m * n), 0.0f);
  bool any = false;
  for (int64_t r = 0; r < m; ++r) {
    const int64_t i = i0 + r;
    KeyRange vr[2];
    const int nv = bwd_ranges(x, i, sq, sk, vr);
    if (!touches(vr, nv, j0, j1)) continue;
    const int64_t qo = L.q_offset(s, i, h);
    const float lse = used_lse(x, x.lse[size_t(L.lse_offset(s, h, i))], h);
    if (lse == kNegInf) continue;  // FlashAttention-2 guards rows without keys or sink
    const float dlse = x.dlse.empty() ? 0.0f : x.dlse[size_t(L.lse_offset(s, h, i))];
    const float delta = row_delta(x, qo, dlse, true);
    for (int64_t t = 0; t < n; ++t) {
      const int64_t j = j0 + t;
      if (!sees(vr, nv, j)) continue;
      const int64_t ko = L.kv_offset(s, j, kvh);
      const float logit = kstep_dot(&x.q[size_t(qo)], &x.k[size_t(ko)], D) * x.scale;
      const float p = std::exp(logit - lse);
      const float dp = kstep_dot(&x.d_o[size_t(qo)], &x.v[size_t(ko)], D);
      const float ds = p * (dp - delta);
      w.pr[size_t(r * n + t)] = round_to(dt, p);
      w.dsr[size_t(r * n + t)] = round_to(dt, ds);
      any = true;
    }
  }
  if (!any) return;
  // dQ_i += dS_i,tile · K_tile: k-steps of 16 keys from j0.
  w.chunk.assign(size_t(D), 0.0);
  for (int64_t r = 0; r < m; ++r) {
    float* dq = &out.dq_acc[(size_t(hg) * size_t(sq) + size_t(i0 + r)) * size_t(D)];
    for (int64_t t0 = 0; t0 < n; t0 += kMmaK) {
      std::fill(w.chunk.begin(), w.chunk.end(), 0.0);
      for (int64_t t = t0; t < std::min(n, t0 + kMmaK); ++t) {
        const double ds = w.dsr[size_t(r * n + t)];
        if (ds == 0.0) continue;
        const float* kj = &x.k[size_t(L.kv_offset(s, j0 + t, kvh))];
        for (int d = 0; d < D; ++d)
          w.chunk[size_t(d)] += ds * double(kj[d]);
      }
      for (int d = 0; d < D; ++d)
        dq[d] = float(double(dq[d]) + w.chunk[size_t(d)]);
    }
  }
  if (!to_dkdv) return;
  // dV_tile += P_tileᵀ · dO and dK_tile += dS_tileᵀ · Q: k-steps of 16 query rows from i0.
  w.chunk.assign(size_t(2 * D), 0.0);
  for (int64_t t = 0; t < n; ++t) {
    float* dk = &acc.dk[size_t(t) * size_t(D)];
    float* dv = &acc.dv[size_t(t) * size_t(D)];
    for (int64_t r0 = 0; r0 < m; r0 += kMmaK) {
      std::fill(w.chunk.begin(), w.chunk.end(), 0.0);
      bool step = false;
      for (int64_t r = r0; r < std::min(m, r0 + kMmaK); ++r) {
        const double p = w.pr[size_t(r * n + t)], ds = w.dsr[size_t(r * n + t)];
        if (p == 0.0 && ds == 0.0) continue;
        step = true;
        const int64_t qo = L.q_offset(s, i0 + r, h);
        for (int d = 0; d < D; ++d) {
          w.chunk[size_t(d)] += ds * double(x.q[size_t(qo + d)]);
          w.chunk[size_t(D + d)] += p * double(x.d_o[size_t(qo + d)]);
        }
      }
      if (!step) continue;
      for (int d = 0; d < D; ++d) {
        dk[d] = float(double(dk[d]) + w.chunk[size_t(d)]);
        dv[d] = float(double(dv[d]) + w.chunk[size_t(D + d)]);
      }
    }
  }
}

// dσ partials of query head h: per query tile, Σ_i exp(σ − lse_i) D_i in fp32 in row order.
std::vector<float> dsink_tiles(const BwdCtx& x, int s, int h, int64_t block_m) {
  const Layout& L = x.L;
  const float sigma = x.sinks[size_t(h)];
  std::vector<float> tiles;
  for (int64_t i0 = 0; i0 < L.sq(s); i0 += block_m) {
    float part = 0;
    for (int64_t i = i0; i < std::min(L.sq(s), i0 + block_m); ++i) {
      const size_t lo = size_t(L.lse_offset(s, h, i));
      const float dlse = x.dlse.empty() ? 0.0f : x.dlse[lo];
      const float delta = row_delta(x, L.q_offset(s, i, h), dlse, !x.opt.faults.dsink_without_dlse);
      part += std::exp(sigma - x.lse[lo]) * delta;
    }
    tiles.push_back(part);
  }
  return tiles;
}

void backward_group(const BwdCtx& x, int s, int kvh, BackwardResult& res,
                    std::vector<std::vector<std::vector<float>>>& dsink_parts) {
  const Layout& L = x.L;
  const int D = L.head_dim, gqa = x.c.gqa();
  const int64_t sq = L.sq(s), sk = L.sk(s);
  const TileShape tile = tile_shape(D);
  GroupOut out;
  out.dq_acc.assign(size_t(gqa) * size_t(sq) * size_t(D), 0.0f);
  TileWork w;
  KeyTileAcc acc;
  for (int64_t j0 = 0; j0 < sk; j0 += tile.block_n) {
    const int64_t j1 = std::min(sk, j0 + tile.block_n);
    acc.dk.assign(size_t(j1 - j0) * size_t(D), 0.0f);
    acc.dv.assign(size_t(j1 - j0) * size_t(D), 0.0f);
    for (int hg = 0; hg < gqa; ++hg) {
      const int h = kvh * gqa + hg;
      const bool to_dkdv = !x.opt.faults.dkv_one_head || hg == 0;
      for (int64_t i0 = 0; i0 < sq; i0 += tile.block_m)
        tile_pair(x, s, h, hg, kvh, i0, std::min(sq, i0 + tile.block_m), j0, j1, w, acc, out,
                  to_dkdv);
    }
    for (int64_t t = 0; t < j1 - j0; ++t) {
      const int64_t off = L.kv_offset(s, j0 + t, kvh);
      for (int d = 0; d < D; ++d) {
        res.dk.set(off + d, acc.dk[size_t(t * D + d)] * x.scale);
        res.dv.set(off + d, acc.dv[size_t(t * D + d)]);
      }
    }
  }
  const float dq_scale = x.opt.faults.dq_unscaled ? 1.0f : x.scale;
  for (int hg = 0; hg < gqa; ++hg) {
    const int h = kvh * gqa + hg;
    for (int64_t i = 0; i < sq; ++i) {
      KeyRange vr[2];
      const bool empty = bwd_ranges(x, i, sq, sk, vr) == 0;
      const float* acc_row = &out.dq_acc[(size_t(hg) * size_t(sq) + size_t(i)) * size_t(D)];
      for (int d = 0; d < D; ++d)
        res.dq.set(L.q_offset(s, i, h) + d,
                   empty && x.opt.faults.nan_empty_rows ? kNaN : acc_row[d] * dq_scale);
    }
    if (!x.sinks.empty()) dsink_parts[size_t(h)][size_t(s)] = dsink_tiles(x, s, h, tile.block_m);
  }
}

}  // namespace

Support tiled_supports_backward(const CaseSpec& c) {
  if (c.head_dim % 8 != 0 || c.head_dim < 8 || c.head_dim > 256)
    return Support::no("head_dim must be a multiple of 8 in [8, 256] (the kernel's tiles)");
  return Support::yes();
}

BackwardResult tiled_backward(const CaseSpec& c, const Inputs& in, const Tensor& o,
                              const std::vector<float>& lse, const GradInputs& g,
                              const TiledBwdOptions& opt) {
  const Layout& L = in.layout;
  static const std::vector<float> kNone;
  BwdCtx x{c,
           L,
           opt,
           in.q.to_float(),
           in.k.to_float(),
           in.v.to_float(),
           o.to_float(),
           g.d_o.to_float(),
           lse,
           g.dlse,
           opt.use_sink ? in.sinks : kNone,
           in.scale};
  BackwardResult res;
  res.dq = Tensor(c.dtype, {L.total_q(), L.heads_q, L.head_dim});
  res.dk = Tensor(c.dtype, {L.total_k(), L.heads_kv, L.head_dim});
  res.dv = Tensor(c.dtype, {L.total_k(), L.heads_kv, L.head_dim});
  res.dq.fill_nan();
  res.dk.fill_nan();
  res.dv.fill_nan();
  // [query head][sequence] -> that sequence's per-tile dσ partials.
  std::vector<std::vector<std::vector<float>>> parts(
      size_t(L.heads_q), std::vector<std::vector<float>>(size_t(L.seqs)));
  const int64_t tasks = int64_t(L.seqs) * L.heads_kv;
#pragma omp parallel for schedule(dynamic)
  for (int64_t t = 0; t < tasks; ++t)
    backward_group(x, int(t / L.heads_kv), int(t % L.heads_kv), res, parts);
  if (x.sinks.empty()) return res;
  // Tiles in order, sequence by sequence; then the planted group faults.
  res.dsinks.assign(size_t(L.heads_q), 0.0f);
  for (int h = 0; h < L.heads_q; ++h) {
    float total = 0;
    for (const std::vector<float>& seq : parts[size_t(h)])
      for (float part : seq)
        total += part;
    res.dsinks[size_t(h)] = opt.faults.dsink_sign ? total : -total;
  }
  if (opt.faults.dsink_group_sum) {
    const int gqa = c.gqa();
    for (int h0 = 0; h0 < L.heads_q; h0 += gqa) {
      float sum = 0;
      for (int h = h0; h < h0 + gqa; ++h)
        sum += res.dsinks[size_t(h)];
      for (int h = h0; h < h0 + gqa; ++h)
        res.dsinks[size_t(h)] = sum;
    }
  }
  return res;
}

}  // namespace sinkbench
