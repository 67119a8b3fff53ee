// impls/paged/flash_paged.cpp — flash_paged on the CPU (implementation layer): a
// FlashAttention-2 style online softmax that reads K/V through the block table in BLOCK_N-key
// steps (running max and sum in fp32, P rounded to the dtype before P @ V, fp32 accumulators, one
// output rounding). Decode rows use split-KV: each split yields a normalised fp32 partial and its
// lse, and the combine step merges them and adds the sink exactly once.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "impls/cpu_common.h"
#include "impls/eager_concat/kstep.h"
#include "impls/paged/paged.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kKeysPerSplit = 256;
constexpr int kMaxSplits = 16;
constexpr int64_t kDecodeRows = 16;

float rnd(DType dt, float x) {
  return dt == DType::f32 ? x : round_to(dt, x);
}

struct FlashContext {
  const Layout& layout;
  const FlashPagedOptions& opt;
  const MaskRule& mask;
  DType dt;
  int head_dim;
  int block_n;
  float scale;
  const PagedKV& kv;
  std::vector<float> q, k_pages, v_pages;
  const std::vector<float>& sinks;
};

// Unnormalised online-softmax state of one row: running max, running sum, o accumulators.
struct RowState {
  float m = kNegInf;
  float l = 0;
  std::vector<float> acc;
  void reset(int head_dim) {
    m = kNegInf;
    l = 0;
    acc.assign(size_t(head_dim), 0.0f);
  }
};

// A normalised result over some keys: fp32 o and its lse (-inf when it saw no weight).
struct Partial {
  float lse = kNegInf;
  float lse_without_sink = kNegInf;
  std::vector<float> o;
};

struct RowScratch {
  std::vector<float> s;       // the tile's logits (-inf where the row cannot see the key)
  std::vector<float> p;       // the tile's P~ as multiplied into V
  std::vector<double> chunk;  // one k-step's partial sums
  RowState state;
  std::vector<Partial> parts;
  Partial result;
};

bool in_ranges(int64_t j, const KeyRange vis[2], int nvis) {
  for (int t = 0; t < nvis; ++t)
    if (j >= vis[t].lo && j < vis[t].hi) return true;
  return false;
}

bool tile_touches(int64_t j0, int64_t j1, const KeyRange vis[2], int nvis) {
  for (int t = 0; t < nvis; ++t)
    if (vis[t].lo < j1 && vis[t].hi > j0) return true;
  return false;
}

// One key tile [j0, j1), as tiled/cpu computes it (docs/impls/tiled.md): logits by k-steps, the
// new running max, l = l * alpha + (tile sum of fp32 P~), acc = acc * alpha + round(P~) V by
// k-steps of kMmaK keys. A tile with no visible key of the row leaves the state unchanged, as the
// kernel skips masked tiles.
void attend_tile(const FlashContext& ctx, const float* q_row, int s, int kv_head,
                 const KeyRange vis[2], int nvis, int64_t j0, int64_t j1, RowScratch& row) {
  const int D = ctx.head_dim;
  const int64_t n = j1 - j0;
  RowState& st = row.state;
  float tile_max = kNegInf;
  for (int64_t t = 0; t < n; ++t) {
    float x = kNegInf;
    if (in_ranges(j0 + t, vis, nvis)) {
      const float* k_row = &ctx.k_pages[size_t(ctx.kv.offset(s, j0 + t, kv_head))];
      x = kstep_dot(q_row, k_row, D) * ctx.scale;
    }
    row.s[size_t(t)] = x;
    tile_max = std::max(tile_max, x);
  }
  if (tile_max == kNegInf) return;
  const float m_new = std::max(st.m, tile_max);
  const float alpha = std::exp(st.m - m_new);  // 0 on the first visible tile (m = -inf)
  float tile_sum = 0;
  for (int64_t t = 0; t < n; ++t) {
    const float e = row.s[size_t(t)] == kNegInf ? 0.0f : std::exp(row.s[size_t(t)] - m_new);
    tile_sum += e;
    // The kernel's mma takes P~ in the storage dtype: the rounding this algorithm adds.
    row.p[size_t(t)] = ctx.opt.faults.unrounded_p ? e : rnd(ctx.dt, e);
  }
  st.l = st.l * alpha + tile_sum;
  st.m = m_new;
  for (float& a : st.acc)
    a *= alpha;
  for (int64_t t0 = 0; t0 < n; t0 += kMmaK) {
    std::fill(row.chunk.begin(), row.chunk.end(), 0.0);
    for (int64_t t = t0; t < std::min(n, t0 + kMmaK); ++t) {
      const double pt = row.p[size_t(t)];
      if (pt == 0.0) continue;  // a masked key adds exact zeros (and its page slot may be NaN)
      const float* v_row = &ctx.v_pages[size_t(ctx.kv.offset(s, j0 + t, kv_head))];
      for (int d = 0; d < D; ++d)
        row.chunk[size_t(d)] += pt * double(v_row[d]);
    }
    for (int d = 0; d < D; ++d)
      st.acc[size_t(d)] = float(double(st.acc[size_t(d)]) + row.chunk[size_t(d)]);
  }
}

// Online softmax over keys [lo, hi) in BLOCK_N tiles starting at lo.
void run_keys(const FlashContext& ctx, const float* q_row, int s, int kv_head,
              const KeyRange vis[2], int nvis, int64_t lo, int64_t hi, RowScratch& row) {
  row.state.reset(ctx.head_dim);
  row.s.resize(size_t(ctx.block_n));
  row.p.resize(size_t(ctx.block_n));
  row.chunk.resize(size_t(ctx.head_dim));
  for (int64_t j0 = lo; j0 < hi; j0 += ctx.block_n) {
    const int64_t j1 = std::min(hi, j0 + ctx.block_n);
    if (tile_touches(j0, j1, vis, nvis))
      attend_tile(ctx, q_row, s, kv_head, vis, nvis, j0, j1, row);
  }
}

// o = acc * factor and lse, the sink joining once when add_sink (tiled/cpu's finalize):
// m' = max(m, sigma), l' = l exp(m - m') + exp(sigma - m'), factor = exp(m - m') / l'.
void finalize(const RowState& st, float sigma, bool add_sink, Partial& out) {
  out.o.assign(st.acc.size(), 0.0f);
  if (!add_sink) sigma = kNegInf;
  if (st.l == 0.0f) {  // no visible key (l >= 1 otherwise: the max term is exp(0))
    out.lse = sigma;
    out.lse_without_sink = kNegInf;
    return;
  }
  out.lse_without_sink = st.m + std::log(st.l);
  float factor;
  if (sigma == kNegInf) {
    factor = 1.0f / st.l;
    out.lse = out.lse_without_sink;
  } else {
    const float m2 = std::max(st.m, sigma);
    const float alpha = std::exp(st.m - m2);
    const float l2 = st.l * alpha + std::exp(sigma - m2);
    factor = alpha / l2;
    out.lse = m2 + std::log(l2);
  }
  for (size_t d = 0; d < st.acc.size(); ++d)
    out.o[d] = st.acc[d] * factor;
}

// log(sum_k exp(lse_k) [+ exp(sigma)]) over the partials, as max + log(sum).
float log_sum_exp(const std::vector<Partial>& parts, float sigma, bool add_sink,
                  bool without_sink_lse) {
  float mx = add_sink ? sigma : kNegInf;
  for (const Partial& p : parts)
    mx = std::max(mx, without_sink_lse ? p.lse_without_sink : p.lse);
  if (mx == kNegInf) return kNegInf;
  float sum = 0;
  for (const Partial& p : parts)
    sum += std::exp((without_sink_lse ? p.lse_without_sink : p.lse) - mx);
  if (add_sink) sum += std::exp(sigma - mx);
  return mx + std::log(sum);
}

// Merges split partials: lse from every partial's lse and the sink (once), o = sum_k
// exp(lse_k - lse) o_k in fp32, splits in ascending key order.
void combine(const std::vector<Partial>& parts, float sigma, bool add_sink, bool lse_without_sink,
             Partial& out) {
  out.lse = log_sum_exp(parts, sigma, add_sink, false);
  out.lse_without_sink = lse_without_sink ? log_sum_exp(parts, sigma, false, true) : kNegInf;
  out.o.assign(parts.front().o.size(), 0.0f);
  if (out.lse == kNegInf) return;
  for (const Partial& p : parts) {
    const float w = std::exp(p.lse - out.lse);
    for (size_t d = 0; d < out.o.size(); ++d)
      out.o[d] += w * p.o[d];
  }
}

void run_row(const FlashContext& ctx, int s, int h, int64_t i, RowScratch& row, Tensor& o,
             std::vector<float>& lse) {
  const Layout& L = ctx.layout;
  const Faults& f = ctx.opt.faults;
  const int64_t sq = L.sq(s), sk = L.sk(s);
  const bool with_sink = !ctx.sinks.empty() && !f.ignore_sink;
  const float sigma = with_sink ? ctx.sinks[size_t(h)] : kNegInf;
  const int kv_head = kv_head_of(h, L.heads_q, L.heads_kv, f);
  const int64_t q_off = L.q_offset(s, i, h);
  const float* q_row = &ctx.q[size_t(q_off)];
  KeyRange vis[2];
  const int nvis = faulty_visible_ranges(ctx.mask, i, sq, sk, f, vis);

  const int splits = ctx.opt.num_splits > 0 ? ctx.opt.num_splits : pick_num_splits(sq, sk);
  if (splits == 1) {
    run_keys(ctx, q_row, s, kv_head, vis, nvis, 0, sk, row);
    finalize(row.state, sigma, with_sink, row.result);
  } else {
    const int64_t chunk = (sk + splits - 1) / splits;
    row.parts.resize(size_t(splits));
    for (int k = 0; k < splits; ++k) {
      const int64_t lo = std::min(sk, k * chunk), hi = std::min(sk, lo + chunk);
      run_keys(ctx, q_row, s, kv_head, vis, nvis, lo, hi, row);
      finalize(row.state, sigma, with_sink && f.sink_per_split, row.parts[size_t(k)]);
    }
    combine(row.parts, sigma, with_sink, f.lse_without_sink, row.result);
  }
  for (int d = 0; d < ctx.head_dim; ++d)
    o.set(q_off + d, rnd(ctx.dt, row.result.o[size_t(d)]));
  lse[size_t(L.lse_offset(s, h, i))] =
      f.lse_without_sink ? row.result.lse_without_sink : row.result.lse;
}

}  // namespace

int pick_num_splits(int64_t sq, int64_t sk) {
  if (sq > kDecodeRows) return 1;
  const int64_t n = (sk + kKeysPerSplit - 1) / kKeysPerSplit;
  return int(std::clamp<int64_t>(n, 1, kMaxSplits));
}

ForwardResult flash_paged_forward(const CaseSpec& c, const Inputs& in,
                                  const FlashPagedOptions& opt) {
  const Layout& L = in.layout;
  const PagedKV kv = build_paged_kv(c, in);
  const FlashContext ctx{L,
                         opt,
                         c.mask,
                         c.dtype,
                         L.head_dim,
                         tile_shape(L.head_dim).block_n,
                         in.scale,
                         kv,
                         in.q.to_float(),
                         kv.k_pages.to_float(),
                         kv.v_pages.to_float(),
                         in.sinks};
  // The query heads of one KV group read the same pages; on the CPU each (sequence, query head)
  // pair is independent work.
  ForwardResult out = poisoned_outputs(c, L);
  for_each_seq_head<RowScratch>(L, [&](int s, int h, RowScratch& row) {
    for (int64_t i = 0; i < L.sq(s); ++i)
      run_row(ctx, s, h, i, row, out.o, out.lse);
  });
  return out;
}

}  // namespace sinkbench
