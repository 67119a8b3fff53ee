// impls/eager_concat/eager_concat.cpp — the eager_concat algorithm on the CPU (implementation
// layer): logits materialised row by row with transformers' rounding points in the storage dtype,
// sink column concatenated, max subtracted, fp32 softmax rounded back, sink dropped, P @ V.
// Plain loops in a fixed order (-ffp-contract=off), so the bits are the same on every machine;
// OpenMP only spreads independent (sequence, head) pairs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "impls/cpu_common.h"
#include "impls/eager_concat/eager_concat.h"
#include "impls/eager_concat/kstep.h"

namespace sinkbench {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

float rnd(DType dt, float x) {
  return dt == DType::f32 ? x : round_to(dt, x);
}

struct EagerContext {
  const CaseSpec& c;
  const Layout& layout;
  const EagerOptions& opt;
  DType dt;
  int head_dim;
  float scale;
  // transformers adds torch.finfo(dtype).min to masked logits, not -inf.
  float mask_value;
  std::vector<float> q, k, v;
  const std::vector<float>& sinks;
};

// Per-thread buffers of one row: the keys its softmax runs over and their logits.
struct RowScratch {
  std::vector<int64_t> keys;
  std::vector<char> visible;
  std::vector<float> logits;  // the logits, then P
  std::vector<float> acc;     // P @ V accumulators of one output row (fp32)
  std::vector<double> chunk;  // the current k-step's partial sums
};

// Adds one k-step's exact partial sums to the fp32 accumulators with one rounding each.
void flush_kstep(RowScratch& row) {
  for (size_t d = 0; d < row.acc.size(); ++d) {
    row.acc[d] = float(double(row.acc[d]) + row.chunk[d]);
    row.chunk[d] = 0.0;
  }
}

// The keys whose softmax weight can be nonzero. A masked key's logit is finfo.min + s; after the
// max subtraction its fp32 exp is exactly 0 whenever the row has a visible key or a sink, so such
// keys are skipped (adding +0 to the sum and to P @ V changes no bit). A row with neither keeps
// every key, masked ones included: real eager then spreads the weight over masked keys.
void collect_keys(const EagerContext& ctx, int64_t i, int64_t sq, int64_t sk, bool with_sink,
                  RowScratch& row) {
  KeyRange r[2];
  const int n = faulty_visible_ranges(ctx.c.mask, i, sq, sk, ctx.opt.faults, r);
  row.keys.clear();
  row.visible.clear();
  for (int t = 0; t < n; ++t)
    for (int64_t j = r[t].lo; j < r[t].hi; ++j) {
      row.keys.push_back(j);
      row.visible.push_back(1);
    }
  if (!row.keys.empty() || with_sink) return;
  for (int64_t j = 0; j < sk; ++j) {
    row.keys.push_back(j);
    row.visible.push_back(0);
  }
}

// QK^T (fp32 accumulation, GEMM output rounded), * scale (rounded), + mask (rounded).
void compute_logits(const EagerContext& ctx, const float* q_row, int s, int kv_head,
                    RowScratch& row) {
  const int D = ctx.head_dim;
  row.logits.resize(row.keys.size());
  for (size_t t = 0; t < row.keys.size(); ++t) {
    const float* k_row = &ctx.k[size_t(ctx.layout.kv_offset(s, row.keys[t], kv_head))];
    float x = rnd(ctx.dt, kstep_dot(q_row, k_row, D));
    x = rnd(ctx.dt, x * ctx.scale);
    if (!row.visible[t]) x = rnd(ctx.dt, x + ctx.mask_value);
    row.logits[t] = x;
  }
}

// combined - max (in the dtype), then F.softmax in fp32 over [keys..., sink] with the sum taken in
// column order, P = exp / sum rounded back to the dtype; the sink column is dropped.
float softmax_row(const EagerContext& ctx, bool with_sink, float sigma, RowScratch& row) {
  const DType dt = ctx.dt;
  float m = with_sink ? sigma : kNegInf;
  for (float x : row.logits)
    m = std::max(m, x);
  for (float& x : row.logits)
    x = rnd(dt, x - m);
  const float x_sink = with_sink ? rnd(dt, sigma - m) : kNegInf;
  // F.softmax subtracts its own max again; it is 0 after the shift but kept for fidelity.
  float mx = x_sink;
  for (float x : row.logits)
    mx = std::max(mx, x);
  float sum_keys = 0;
  for (float& x : row.logits) {
    x = std::exp(x - mx);
    sum_keys += x;
  }
  const float e_sink = with_sink ? std::exp(x_sink - mx) : 0.0f;
  const float sum = sum_keys + e_sink;
  for (float& x : row.logits) {
    const float p = x / sum;
    x = ctx.opt.faults.unrounded_p ? p : rnd(dt, p);
  }
  const float z = ctx.opt.faults.lse_without_sink ? sum_keys : sum;
  return z > 0 ? m + (mx + std::log(z)) : kNegInf;
}

void run_row(const EagerContext& ctx, int s, int h, int64_t i, RowScratch& row, Tensor& o,
             std::vector<float>& lse) {
  const Layout& L = ctx.layout;
  const int D = ctx.head_dim;
  const int64_t sq = L.sq(s), sk = L.sk(s);
  const bool with_sink = !ctx.sinks.empty() && !ctx.opt.faults.ignore_sink;
  const float sigma = with_sink ? ctx.sinks[size_t(h)] : kNegInf;
  const int kv_head = kv_head_of(h, L.heads_q, L.heads_kv, ctx.opt.faults);
  const int64_t q_off = L.q_offset(s, i, h);

  collect_keys(ctx, i, sq, sk, with_sink, row);
  compute_logits(ctx, &ctx.q[size_t(q_off)], s, kv_head, row);
  lse[size_t(L.lse_offset(s, h, i))] = softmax_row(ctx, with_sink, sigma, row);

  // P @ V over every key of the row, k-steps of kMmaK keys aligned at key 0; skipped keys have
  // P = 0 exactly and add nothing to their k-step.
  row.acc.assign(size_t(D), 0.0f);
  row.chunk.assign(size_t(D), 0.0);
  for (size_t t = 0; t < row.keys.size(); ++t) {
    const int64_t step = row.keys[t] / kMmaK;
    const double p = row.logits[t];
    const float* v_row = &ctx.v[size_t(L.kv_offset(s, row.keys[t], kv_head))];
    for (int d = 0; d < D; ++d)
      row.chunk[size_t(d)] += p * double(v_row[d]);
    if (t + 1 == row.keys.size() || row.keys[t + 1] / kMmaK != step) flush_kstep(row);
  }
  for (int d = 0; d < D; ++d)
    o.set(q_off + d, rnd(ctx.dt, row.acc[size_t(d)]));
}

}  // namespace

ForwardResult eager_concat_forward(const CaseSpec& c, const Inputs& in, const EagerOptions& opt) {
  const Layout& L = in.layout;
  EagerContext ctx{c,
                   L,
                   opt,
                   c.dtype,
                   L.head_dim,
                   in.scale,
                   float(-dtype_max(c.dtype)),
                   in.q.to_float(),
                   in.k.to_float(),
                   in.v.to_float(),
                   in.sinks};
  ForwardResult out = poisoned_outputs(c, L);
  for_each_seq_head<RowScratch>(L, [&](int s, int h, RowScratch& row) {
    for (int64_t i = 0; i < L.sq(s); ++i)
      run_row(ctx, s, h, i, row, out.o, out.lse);
  });
  return out;
}

}  // namespace sinkbench
