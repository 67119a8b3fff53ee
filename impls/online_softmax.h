// impls/online_softmax.h — the one FlashAttention-2 online softmax of the CPU references
// (implementation layer), with the rounding points of the tensor-core kernels: the row state, the
// tile step over a K/V row accessor, the walk over a row's key tiles and the finalize that adds the
// sink exactly once. tiled/cpu and flash_paged/cpu both run it; they differ only in how K/V rows
// are found (a packed tensor, a paged pool through the block table) and, for flash_paged, in the
// split-KV combine. docs/impls/tiled.md gives the rounding points.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cases/mask.h"
#include "core/dtype.h"
#include "impls/eager_concat/kstep.h"

namespace sinkbench::online_softmax {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// What every tile step of a row needs to know.
struct TileRule {
  DType dtype = DType::bf16;  // P~ is rounded to it before P.V (unless round_p is false)
  bool round_p = true;        // false: the unrounded_p fault (P~ kept in fp32)
  int head_dim = 0;           // D
  float scale = 0;            // logit scale (fp32)
};

// Unnormalised state of one row: running max and sum of exp(s - m) in fp32, fp32 accumulators.
struct RowState {
  float m = kNegInf;
  float l = 0;
  std::vector<float> acc;  // [D]
  void reset(int head_dim) {
    m = kNegInf;
    l = 0;
    acc.assign(size_t(head_dim), 0.0f);
  }
};

// Scratch of one row's tiles, reused from row to row.
struct TileScratch {
  std::vector<float> s;       // the tile's logits (-inf where the row cannot see the key)
  std::vector<float> p;       // the tile's P~ as multiplied into V
  std::vector<double> chunk;  // one k-step's partial sums (exact for 16-bit inputs)
  void resize(int64_t block_n, int head_dim) {
    s.resize(size_t(block_n));
    p.resize(size_t(block_n));
    chunk.resize(size_t(std::max<int64_t>(block_n, head_dim)));
  }
};

inline bool key_visible(int64_t j, const KeyRange* r, int n) {
  for (int t = 0; t < n; ++t)
    if (j >= r[t].lo && j < r[t].hi) return true;
  return false;
}

inline bool tile_touches(int64_t j0, int64_t j1, const KeyRange* r, int n) {
  for (int t = 0; t < n; ++t)
    if (r[t].lo < j1 && r[t].hi > j0) return true;
  return false;
}

// A K/V row accessor gives, for keys of one (sequence, KV head):
//   void logits(const float* q, int64_t j0, int64_t n, float* s, double* chunk) const
//     s[t] = q . k_{j0+t} for t < n, by the tensor core's k-steps of kMmaK products summed
//     exactly and added to the fp32 accumulator with one rounding (kstep_dot's arithmetic);
//   const float* value(int64_t j) const — the row v_j (D values).
// RowKeys is the simplest one: rows at a fixed stride in one buffer; paged pools and transposed
// key blocks are the others.

// One key tile [j0, j1) of a row: logits, new max, rescale of l and acc, P~ rounded, acc += P~ V
// by k-steps of kMmaK keys. A tile with no visible key of the row leaves the state unchanged, as
// the kernels skip masked tiles.
template <class Rows>
void tile_step(const TileRule& rule, const Rows& kv, const float* q, int64_t j0, int64_t j1,
               const KeyRange* vis, int nvis, RowState& st, TileScratch& w) {
  const int D = rule.head_dim;
  const int64_t n = j1 - j0;
  kv.logits(q, j0, n, w.s.data(), w.chunk.data());
  float tile_max = kNegInf;
  for (int64_t t = 0; t < n; ++t) {
    w.s[size_t(t)] = key_visible(j0 + t, vis, nvis) ? w.s[size_t(t)] * rule.scale : kNegInf;
    tile_max = std::max(tile_max, w.s[size_t(t)]);
  }
  if (tile_max == kNegInf) return;
  const float m_new = std::max(st.m, tile_max);
  const float alpha = std::exp(st.m - m_new);  // 0 on the first visible tile (m = -inf)
  float tile_sum = 0;
  for (int64_t t = 0; t < n; ++t) {
    const float e = w.s[size_t(t)] == kNegInf ? 0.0f : std::exp(w.s[size_t(t)] - m_new);
    tile_sum += e;
    // The kernel's mma takes P~ in the storage dtype: the rounding this algorithm adds.
    w.p[size_t(t)] = rule.round_p && rule.dtype != DType::f32 ? round_to(rule.dtype, e) : e;
  }
  st.l = st.l * alpha + tile_sum;
  st.m = m_new;
  for (float& a : st.acc)
    a *= alpha;
  for (int64_t t0 = 0; t0 < n; t0 += kMmaK) {
    std::fill(w.chunk.begin(), w.chunk.begin() + D, 0.0);
    for (int64_t t = t0; t < std::min(n, t0 + kMmaK); ++t) {
      const double pt = w.p[size_t(t)];
      if (pt == 0.0) continue;  // a masked key adds exact zeros (and its page slot may be NaN)
      const float* vj = kv.value(j0 + t);
      for (int d = 0; d < D; ++d)
        w.chunk[size_t(d)] += pt * double(vj[d]);
    }
    for (int d = 0; d < D; ++d)
      st.acc[size_t(d)] = float(double(st.acc[size_t(d)]) + w.chunk[size_t(d)]);
  }
}

// The online softmax of one row over keys [lo, hi) in tiles of block_n starting at lo, visiting
// only tiles the row can see.
template <class Rows>
void attend_keys(const TileRule& rule, const Rows& kv, const float* q, int64_t block_n, int64_t lo,
                 int64_t hi, const KeyRange* vis, int nvis, RowState& st, TileScratch& w) {
  st.reset(rule.head_dim);
  w.resize(block_n, rule.head_dim);
  for (int64_t j0 = lo; j0 < hi; j0 += block_n) {
    const int64_t j1 = std::min(hi, j0 + block_n);
    if (tile_touches(j0, j1, vis, nvis)) tile_step(rule, kv, q, j0, j1, vis, nvis, st, w);
  }
}

// The end of a row: o_d = acc_d * factor, and its lse with and without the sink.
struct Finalized {
  float factor = 0;
  float lse = kNegInf;               // sink-inclusive (equal to lse_without_sink without a sink)
  float lse_without_sink = kNegInf;  // log of the keys' part of the denominator alone
};

// The one place the sink joins a row, exactly once: m' = max(m, sigma),
// l' = l exp(m - m') + exp(sigma - m'), factor = exp(m - m') / l'. sigma = -inf: no sink.
// A row with no visible key gets o = 0 and lse = sigma.
inline Finalized finalize(const RowState& st, float sigma) {
  Finalized f;
  if (st.l == 0.0f) {  // no visible key (l >= 1 otherwise: the max term is exp(0))
    f.lse = sigma;
    return f;
  }
  f.lse_without_sink = st.m + std::log(st.l);
  if (sigma == kNegInf) {
    f.factor = 1.0f / st.l;
    f.lse = f.lse_without_sink;
    return f;
  }
  const float m2 = std::max(st.m, sigma);
  const float alpha = std::exp(st.m - m2);
  const float l2 = st.l * alpha + std::exp(sigma - m2);
  f.factor = alpha / l2;
  f.lse = m2 + std::log(l2);
  return f;
}

// K/V rows at a fixed element stride in one buffer (a packed tensor of one KV head).
struct RowKeys {
  const float* k = nullptr;  // row j at k + j * stride
  const float* v = nullptr;
  int64_t stride = 0;
  int head_dim = 0;
  void logits(const float* q, int64_t j0, int64_t n, float* s, double*) const {
    for (int64_t t = 0; t < n; ++t)
      s[t] = kstep_dot(q, k + (j0 + t) * stride, head_dim);
  }
  const float* value(int64_t j) const { return v + j * stride; }
};

}  // namespace sinkbench::online_softmax
