// impls/paged/flash_paged.cpp — flash_paged on the CPU (implementation layer): the online softmax
// of impls/online_softmax.h (tiled/cpu's, rounding point for rounding point) reading K/V through
// the block table in BLOCK_N-key steps. Decode rows use split-KV: each split yields a normalised
// fp32 partial and its lse, and the combine step merges them and adds the sink exactly once.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "impls/cpu_common.h"
#include "impls/eager_concat/kstep.h"
#include "impls/online_softmax.h"
#include "impls/paged/paged.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench {
namespace {

namespace os = online_softmax;
using os::kNegInf;

constexpr int64_t kKeysPerSplit = 256;
constexpr int kMaxSplits = 16;
constexpr int64_t kDecodeRows = 16;

float rnd(DType dt, float x) {
  return dt == DType::f32 ? x : round_to(dt, x);
}

// K/V rows of one (sequence, KV head) read through the block table: the paged K/V row accessor of
// the online softmax.
struct PagedRows {
  const PagedKV& kv;
  const float* k_pages;
  const float* v_pages;
  int s = 0;
  int kv_head = 0;
  void logits(const float* q, int64_t j0, int64_t n, float* out, double*) const {
    for (int64_t t = 0; t < n; ++t)
      out[t] = kstep_dot(q, k_pages + kv.offset(s, j0 + t, kv_head), kv.head_dim);
  }
  const float* value(int64_t j) const { return v_pages + kv.offset(s, j, kv_head); }
};

struct FlashContext {
  const Layout& layout;
  const FlashPagedOptions& opt;
  const MaskRule& mask;
  os::TileRule rule;
  int block_n;
  const PagedKV& kv;
  std::vector<float> q, k_pages, v_pages;
  const std::vector<float>& sinks;
};

// A normalised result over some keys: fp32 o and its lse (-inf when it saw no weight).
struct Partial {
  float lse = kNegInf;
  float lse_without_sink = kNegInf;
  std::vector<float> o;
};

struct RowScratch {
  os::TileScratch tile;
  os::RowState state;
  std::vector<Partial> parts;
  Partial result;
};

// o = acc * factor and lse, the sink joining once when add_sink (os::finalize).
void finalize(const os::RowState& st, float sigma, bool add_sink, Partial& out) {
  const os::Finalized f = os::finalize(st, add_sink ? sigma : kNegInf);
  out.lse = f.lse;
  out.lse_without_sink = f.lse_without_sink;
  out.o.resize(st.acc.size());
  for (size_t d = 0; d < st.acc.size(); ++d)
    out.o[d] = st.acc[d] * f.factor;
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

  const PagedRows rows{ctx.kv, ctx.k_pages.data(), ctx.v_pages.data(), s, kv_head};
  auto run_keys = [&](int64_t lo, int64_t hi) {
    os::attend_keys(ctx.rule, rows, q_row, ctx.block_n, lo, hi, vis, nvis, row.state, row.tile);
  };
  const int splits = ctx.opt.num_splits > 0 ? ctx.opt.num_splits : pick_num_splits(sq, sk);
  if (splits == 1) {
    run_keys(0, sk);
    finalize(row.state, sigma, with_sink, row.result);
  } else {
    const int64_t chunk = (sk + splits - 1) / splits;
    row.parts.resize(size_t(splits));
    for (int k = 0; k < splits; ++k) {
      const int64_t lo = std::min(sk, k * chunk), hi = std::min(sk, lo + chunk);
      run_keys(lo, hi);
      finalize(row.state, sigma, with_sink && f.sink_per_split, row.parts[size_t(k)]);
    }
    combine(row.parts, sigma, with_sink, f.lse_without_sink, row.result);
  }
  for (int d = 0; d < ctx.rule.head_dim; ++d)
    o.set(q_off + d, rnd(ctx.rule.dtype, row.result.o[size_t(d)]));
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
                         {c.dtype, !opt.faults.unrounded_p, L.head_dim, in.scale},
                         tile_shape(L.head_dim).block_n,
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
