// impls/eager_concat/eager_concat_bwd.cpp — what PyTorch autograd computes on the transformers
// GPT-OSS eager graph (impls layer): the forward's saved tensors recomputed with its rounding
// points (eager_concat.cpp), then each op's backward with its output rounded to the storage
// dtype: dP = dO·Vᵀ, the softmax backward P (dP − D) (fp32 inside, D = Σ_j P_ij dP_ij), the
// max-subtraction's gradient routed to the row's argmax, the sink column summed over batch and
// rows into the sink parameter's gradient (dtype), the scale, dQ = dS·K, and per query head
// dK = dSᵀ·Q, dV = Pᵀ·dO summed over the GQA group by repeat_kv's backward. The softmax_fp32
// variant (eager_paged) keeps P in fp32 inside the softmax backward. docs/impls/eager_concat.md.
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

struct EagerBwdCtx {
  const CaseSpec& c;
  const Layout& L;
  const EagerOptions& opt;
  DType dt;
  float scale, mask_value;
  std::vector<float> q, k, v, d_o;
  const std::vector<float>& sinks;
};

// One row of the forward as eager computes it, and what its backward needs.
struct EagerRow {
  std::vector<int64_t> keys;  // the columns the softmax runs over (eager_concat.cpp's set)
  std::vector<float> p;       // P as saved for P@V (dtype)
  std::vector<float> p_soft;  // P as the softmax backward reads it (dtype, or fp32 for
                              // softmax_fp32)
  float p_sink = 0;           // the sink column's P as the softmax backward reads it
  int64_t argmax = -1;        // column of the row maximum (keys index; keys.size() = the sink)
};

// The keys, rounded logits, max shift and fp32 softmax of eager_concat.cpp's run_row.
void forward_row(const EagerBwdCtx& x, int s, int h, int64_t i, EagerRow& row) {
  const Layout& L = x.L;
  const int64_t sq = L.sq(s), sk = L.sk(s);
  const int D = L.head_dim, kvh = h / x.c.gqa();
  const bool with_sink = !x.sinks.empty();
  const float sigma = with_sink ? x.sinks[size_t(h)] : kNegInf;
  KeyRange r[2];
  const int n = visible_ranges(x.c.mask, i, sq, sk, r);
  row.keys.clear();
  std::vector<char> visible;
  for (int t = 0; t < n; ++t)
    for (int64_t j = r[t].lo; j < r[t].hi; ++j) {
      row.keys.push_back(j);
      visible.push_back(1);
    }
  if (row.keys.empty() && !with_sink) {  // real eager spreads the row over masked keys
    for (int64_t j = 0; j < sk; ++j) {
      row.keys.push_back(j);
      visible.push_back(0);
    }
  }
  const float* qi = &x.q[size_t(L.q_offset(s, i, h))];
  std::vector<float> logit(row.keys.size());
  for (size_t t = 0; t < row.keys.size(); ++t) {
    float y = rnd(x.dt, kstep_dot(qi, &x.k[size_t(L.kv_offset(s, row.keys[t], kvh))], D));
    y = rnd(x.dt, y * x.scale);
    if (!visible[t]) y = rnd(x.dt, y + x.mask_value);
    logit[t] = y;
  }
  // torch.max's index: the first maximal column, the sink column coming last.
  float m = kNegInf;
  row.argmax = -1;
  for (size_t t = 0; t < logit.size(); ++t)
    if (row.argmax < 0 || logit[t] > m) {
      m = logit[t];
      row.argmax = int64_t(t);
    }
  if (with_sink && (row.argmax < 0 || sigma > m)) {
    m = sigma;
    row.argmax = int64_t(logit.size());
  }
  for (float& y : logit)
    y = rnd(x.dt, y - m);
  const float x_sink = with_sink ? rnd(x.dt, sigma - m) : kNegInf;
  float mx = x_sink;
  for (float y : logit)
    mx = std::max(mx, y);
  float sum_keys = 0;
  for (float& y : logit) {
    y = std::exp(y - mx);
    sum_keys += y;
  }
  const float e_sink = with_sink ? std::exp(x_sink - mx) : 0.0f;
  const float sum = sum_keys + e_sink;
  row.p.resize(logit.size());
  row.p_soft.resize(logit.size());
  for (size_t t = 0; t < logit.size(); ++t) {
    const float p = logit[t] / sum;
    row.p[t] = rnd(x.dt, p);
    row.p_soft[t] = x.opt.softmax_fp32 ? p : row.p[t];
  }
  const float ps = with_sink ? e_sink / sum : 0.0f;
  row.p_sink = x.opt.softmax_fp32 ? ps : rnd(x.dt, ps);
}

// Per-thread buffers of one (sequence, query head).
struct HeadWork {
  EagerRow row;
  std::vector<float> ds;      // [sq][sk] dS after the scale (dtype), 0 where not in the row
  std::vector<float> p;       // [sq][sk] P as saved for P@V
  std::vector<double> chunk;  // one k-step's partial sums
};

// Output of one (sequence, query head): dq rows, this head's dk/dv before the group sum, and the
// sink column's gradient per row.
struct HeadOut {
  std::vector<float> dk, dv;  // [sk][D], rounded to the dtype (the per-head GEMM outputs)
  std::vector<float> dsink;   // [sq]
};

void backward_head(const EagerBwdCtx& x, int s, int h, HeadWork& w, HeadOut& out,
                   BackwardResult& res) {
  const Layout& L = x.L;
  const int D = L.head_dim, kvh = h / x.c.gqa();
  const int64_t sq = L.sq(s), sk = L.sk(s);
  w.ds.assign(size_t(sq * sk), 0.0f);
  w.p.assign(size_t(sq * sk), 0.0f);
  out.dsink.assign(size_t(sq), 0.0f);
  for (int64_t i = 0; i < sq; ++i) {
    forward_row(x, s, h, i, w.row);
    const EagerRow& row = w.row;
    const float* doi = &x.d_o[size_t(L.q_offset(s, i, h))];
    const size_t n = row.keys.size();
    // dP = dO·Vᵀ (GEMM output rounded); the sink column's dP is 0 (its slice gets no gradient).
    std::vector<float> dp(n), dc(n + 1);
    for (size_t t = 0; t < n; ++t)
      dp[t] = rnd(x.dt, kstep_dot(doi, &x.v[size_t(L.kv_offset(s, row.keys[t], kvh))], D));
    // Softmax backward in fp32: D = Σ P dP over the columns in order, dc = P (dP - D), rounded.
    float delta = 0;
    for (size_t t = 0; t < n; ++t)
      delta += row.p_soft[t] * dp[t];
    for (size_t t = 0; t < n; ++t)
      dc[t] = rnd(x.dt, row.p_soft[t] * (dp[t] - delta));
    dc[n] = rnd(x.dt, row.p_sink * (0.0f - delta));
    // combined - max: the max's gradient, -Σ dc over the row (fp32 sum, rounded), joins the
    // argmax column's gradient with one more rounding.
    float total = 0;
    for (size_t t = 0; t <= n; ++t)
      total += dc[t];
    const float to_max = rnd(x.dt, -total);
    if (row.argmax >= 0) dc[size_t(row.argmax)] = rnd(x.dt, dc[size_t(row.argmax)] + to_max);
    if (!x.sinks.empty()) out.dsink[size_t(i)] = dc[n];
    // The scale's backward, then the row's dS and P in key order for the GEMMs.
    for (size_t t = 0; t < n; ++t) {
      w.ds[size_t(i * sk + row.keys[t])] = rnd(x.dt, dc[t] * x.scale);
      w.p[size_t(i * sk + row.keys[t])] = row.p[t];
    }
  }
  // dQ = dS·K: k-steps of 16 keys from key 0.
  w.chunk.assign(size_t(D), 0.0);
  std::vector<float> acc(static_cast<size_t>(D));
  for (int64_t i = 0; i < sq; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t j0 = 0; j0 < sk; j0 += kMmaK) {
      std::fill(w.chunk.begin(), w.chunk.end(), 0.0);
      for (int64_t j = j0; j < std::min(sk, j0 + kMmaK); ++j) {
        const double ds = w.ds[size_t(i * sk + j)];
        if (ds == 0.0) continue;
        const float* kj = &x.k[size_t(L.kv_offset(s, j, kvh))];
        for (int d = 0; d < D; ++d)
          w.chunk[size_t(d)] += ds * double(kj[d]);
      }
      for (int d = 0; d < D; ++d)
        acc[size_t(d)] = float(double(acc[size_t(d)]) + w.chunk[size_t(d)]);
    }
    for (int d = 0; d < D; ++d)
      res.dq.set(L.q_offset(s, i, h) + d, acc[size_t(d)]);
  }
  // This head's dK = dSᵀ·Q and dV = Pᵀ·dO: k-steps of 16 query rows from row 0, rounded.
  out.dk.assign(size_t(sk * D), 0.0f);
  out.dv.assign(size_t(sk * D), 0.0f);
  w.chunk.assign(size_t(2 * D), 0.0);
  std::vector<float> acc2(static_cast<size_t>(2 * D));
  for (int64_t j = 0; j < sk; ++j) {
    std::fill(acc2.begin(), acc2.end(), 0.0f);
    for (int64_t i0 = 0; i0 < sq; i0 += kMmaK) {
      std::fill(w.chunk.begin(), w.chunk.end(), 0.0);
      for (int64_t i = i0; i < std::min(sq, i0 + kMmaK); ++i) {
        const double ds = w.ds[size_t(i * sk + j)], p = w.p[size_t(i * sk + j)];
        if (ds == 0.0 && p == 0.0) continue;
        const int64_t qo = L.q_offset(s, i, h);
        for (int d = 0; d < D; ++d) {
          w.chunk[size_t(d)] += ds * double(x.q[size_t(qo + d)]);
          w.chunk[size_t(D + d)] += p * double(x.d_o[size_t(qo + d)]);
        }
      }
      for (int d = 0; d < 2 * D; ++d)
        acc2[size_t(d)] = float(double(acc2[size_t(d)]) + w.chunk[size_t(d)]);
    }
    for (int d = 0; d < D; ++d) {
      out.dk[size_t(j * D + d)] = rnd(x.dt, acc2[size_t(d)]);
      out.dv[size_t(j * D + d)] = rnd(x.dt, acc2[size_t(D + d)]);
    }
  }
}

}  // namespace

Support eager_supports_backward(const CaseSpec& c) {
  if (c.has_dlse())
    return Support::no("transformers' eager attention returns no lse: no dL/dlse reaches it");
  return Support::yes();
}

BackwardResult eager_concat_backward(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                                     const EagerOptions& opt) {
  const Layout& L = in.layout;
  const EagerBwdCtx x{c,
                      L,
                      opt,
                      c.dtype,
                      in.scale,
                      float(-dtype_max(c.dtype)),
                      in.q.to_float(),
                      in.k.to_float(),
                      in.v.to_float(),
                      g.d_o.to_float(),
                      in.sinks};
  BackwardResult res;
  res.dq = Tensor(c.dtype, {L.total_q(), L.heads_q, L.head_dim});
  res.dk = Tensor(c.dtype, {L.total_k(), L.heads_kv, L.head_dim});
  res.dv = Tensor(c.dtype, {L.total_k(), L.heads_kv, L.head_dim});
  res.dq.fill_nan();
  std::vector<HeadOut> heads(size_t(L.seqs) * size_t(L.heads_q));
  for_each_seq_head<HeadWork>(L, [&](int s, int h, HeadWork& w) {
    backward_head(x, s, h, w, heads[size_t(s) * size_t(L.heads_q) + size_t(h)], res);
  });
  // repeat_kv's backward: the group's per-head gradients summed in fp32 (head order), rounded.
  const int D = L.head_dim, gqa = c.gqa();
  for (int s = 0; s < L.seqs; ++s)
    for (int kvh = 0; kvh < L.heads_kv; ++kvh)
      for (int64_t j = 0; j < L.sk(s); ++j)
        for (int d = 0; d < D; ++d) {
          float dk = 0, dv = 0;
          for (int t = 0; t < gqa; ++t) {
            const HeadOut& o = heads[size_t(s) * size_t(L.heads_q) + size_t(kvh * gqa + t)];
            dk += o.dk[size_t(j * D + d)];
            dv += o.dv[size_t(j * D + d)];
          }
          res.dk.set(L.kv_offset(s, j, kvh) + d, dk);
          res.dv.set(L.kv_offset(s, j, kvh) + d, dv);
        }
  // The expanded sink column's gradient summed over batch and rows in fp32 (sequence, row
  // order), rounded to the parameter's dtype.
  if (!in.sinks.empty()) {
    res.dsinks.assign(size_t(L.heads_q), 0.0f);
    for (int h = 0; h < L.heads_q; ++h) {
      float total = 0;
      for (int s = 0; s < L.seqs; ++s)
        for (float v : heads[size_t(s) * size_t(L.heads_q) + size_t(h)].dsink)
          total += v;
      res.dsinks[size_t(h)] = rnd(c.dtype, total);
    }
  }
  return res;
}

}  // namespace sinkbench
