// tests/impls/cuda/tiled_bwd_cuda_test.cpp — the tiled/cuda backward pass (dq, dk, dv, dsinks)
// against an exact double-precision backward of the same dtype-rounded inputs (DESIGN §1
// formulas) over bf16/fp16 x masks x GQA 1/8/64 x ragged and packed lengths (to 4224 x 4224, long
// cases on a declared sample of rows, keys and heads) x head dims 64/128, sinks band:4:8 and
// none, dlse on and off; 20 reruns bitwise identical; every gradient element
// written (guarded, NaN-poisoned buffers); small cases for compute-sanitizer
// (TiledCudaBwdSanitize); and the backward oracle with the gradient policy on the sweep
// (CudaBwdPolicySweep).
//
// The bound each element must meet follows the kernel's rounding points: P and dS rounded to the
// dtype before their GEMMs (u each), D from the forward's rounded o (whose own error is within
// u-multiples of sum_j P |v|), fp32 accumulation (n u32 over n terms), one output rounding:
//   |got - exact| <= (4 u + n u32) M + u |exact|,
// M the same sum as the gradient's with every term replaced by its magnitude and dS by
// P (|dP - D| + sum_d |do| sum_j P |v|). Near zero a rounding errs by up to eta, half the dtype's
// smallest subnormal (fp16: 2^-25; P, dS and o fall there on long rows), so each bound also
// takes 2 eta (F + 1), F the sum of the multipliers of those roundings: dS's (|k| for dq, |q|
// for dk, and P times D's own floor sum_d |do| (1 + sum_j |v|) from o's), P's (|do| for dv).
// It stands until the gradient policy in oracle/ exists.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "cases/mask.h"
#include "cases/rng.h"
#include "core/dtype.h"
#include "impls/impl.h"
#include "impls/tiled/cuda/tiled_bwd_case.h"
#include "tests/impls/cuda/gpu_cases.h"
#include "tests/impls/cuda/gpu_test_util.h"
#include "tests/support/grad_judge.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

using gpu_cases::mask_of;

const Impl& tiled_cuda() {
  return gpu_cases::impl_named("tiled/cuda");
}

// do drawn by the counter-based generator (tag kDo, rounded to the dtype); dlse, when asked for,
// from the same tag's second stream, in fp32.
GradInputs make_grads(const CaseSpec& c, const Inputs& in, bool with_dlse) {
  GradInputs g;
  const Layout& l = in.layout;
  g.d_o = Tensor(c.dtype, {l.total_q(), c.heads_q, c.head_dim});
  for (int64_t i = 0; i < g.d_o.numel(); ++i)
    g.d_o.set(i, input_value(c, rng::kDo, i));
  if (with_dlse) {
    g.dlse.resize(size_t(l.lse_size()));
    for (size_t i = 0; i < g.dlse.size(); ++i)
      g.dlse[i] = float(rng::normal(c.seed, rng::kDo, i, 1));
  }
  return g;
}

// Which gradient elements the exact backward computes and the test checks: dq of the selected
// rows and dsinks of the selected query heads; dk and dv of the selected keys, only where the
// selected heads are whole GQA groups (dk/dv sum over the group). Small cases select everything.
struct Selection {
  std::vector<int> heads;                     // ascending query heads
  std::vector<std::vector<char>> rows, keys;  // [seq][row] / [seq][key]: checked
  bool dkdv = true;
};

Selection select_all(const CaseSpec& c, const Layout& l) {
  Selection sel;
  for (int h = 0; h < c.heads_q; ++h)
    sel.heads.push_back(h);
  for (int s = 0; s < l.seqs; ++s) {
    sel.rows.emplace_back(size_t(l.sq(s)), 1);
    sel.keys.emplace_back(size_t(l.sk(s)), 1);
  }
  return sel;
}

// Long cases: the first KV group's query heads (at most 8 of them; dk/dv only when that is the
// whole group), and per sequence the first and last 16 rows and keys, those at the 64-wide tile
// seams' both sides, and 32 drawn ones each.
Selection select_sample(const CaseSpec& c, const Layout& l, uint64_t seed) {
  Selection sel;
  const int n_heads = std::min(c.gqa(), 8);
  for (int h = 0; h < n_heads; ++h)
    sel.heads.push_back(h);
  sel.dkdv = n_heads == c.gqa();
  auto pick = [&](int64_t n, uint32_t stream) {
    std::vector<char> v(size_t(n), 0);
    for (int64_t i = 0; i < n; ++i)
      v[size_t(i)] = i < 16 || i >= n - 16 || i % 64 == 0 || i % 64 == 63;
    for (uint64_t t = 0; t < 32 && n > 0; ++t)
      v[size_t(int64_t(rng::uniform(seed, rng::kRows, t, stream) * double(n)))] = 1;
    return v;
  };
  for (int s = 0; s < l.seqs; ++s) {
    sel.rows.push_back(pick(l.sq(s), uint32_t(2 * s)));
    sel.keys.push_back(pick(l.sk(s), uint32_t(2 * s + 1)));
  }
  return sel;
}

// Exact gradients (double) of the selected elements, their magnitude sums M and underflow
// floors F (see the file comment). Phase 1, per (query head, row), in parallel over heads: lse,
// D, its magnitudes, dq of selected rows, dsinks. Phase 2, per selected key, in parallel over
// keys: dk and dv from every row of the group's heads that sees it. Each element is owned by one
// thread, so the result does not depend on the thread count.
struct Exact {
  std::vector<double> dq, dk, dv, dsinks;
  std::vector<double> mdq, mdk, mdv, mdsinks;
  std::vector<double> fdq, fdk, fdv, fdsinks;  // underflow floors F
  double terms = 0;                            // the most terms any gradient element sums
};

struct RowStats {
  double lse = -INFINITY, delta = 0, dmag = 0, dfloor = 0;
  double w = 0, osum = 0;  // sum_j P (the keys' share against the sink), sum_d |o|
};

// do_rounded: the implementation rounds do (times w = sum_j P) to the dtype before the pass
// (lse_renorm's do_ns): dS's magnitude then also takes P sum_d |do| |v|, and the floors the
// underflow of do_ns (do_floor).
Exact exact_backward(const CaseSpec& c, const Inputs& in, const GradInputs& g, const Selection& sel,
                     bool do_rounded) {
  const Layout& l = in.layout;
  const int D = c.head_dim, gqa = c.gqa();
  const double scale = double(in.scale);
  const std::vector<double> q = in.q.to_double(), k = in.k.to_double(), v = in.v.to_double(),
                            d_o = g.d_o.to_double();
  Exact e;
  for (auto* a : {&e.dq, &e.mdq, &e.fdq})
    a->assign(q.size(), 0);
  for (auto* a : {&e.dk, &e.mdk, &e.fdk, &e.dv, &e.mdv, &e.fdv})
    a->assign(k.size(), 0);
  for (auto* a : {&e.dsinks, &e.mdsinks, &e.fdsinks})
    a->assign(in.sinks.size(), 0);
  for (int s = 0; s < l.seqs; ++s)
    e.terms = std::max({e.terms, double(l.sk(s)), double(l.sq(s) * gqa)});
  auto sigma_of = [&](int h) { return in.sinks.empty() ? -INFINITY : double(in.sinks[size_t(h)]); };
  auto dot = [D](const double* a, const double* b) {
    double x = 0;
    for (int d = 0; d < D; ++d)
      x += a[d] * b[d];
    return x;
  };
  auto absdot = [D](const double* a, const double* b) {
    double x = 0;
    for (int d = 0; d < D; ++d)
      x += std::fabs(a[d] * b[d]);
    return x;
  };
  // do_ns = rd(do w) may underflow (eta each): P_ns = P / w turns that into dS errors of
  // P / w (sum_d |v| + sum_d |o_ns|), o_ns = o / w.
  auto do_floor = [&](double pij, const RowStats& r, const double* vj) {
    double vsum = 0;
    for (int d = 0; d < D; ++d)
      vsum += std::fabs(vj[d]);
    return pij / r.w * (vsum + r.osum / r.w);
  };
  // stats[h][packed row]
  std::vector<std::vector<RowStats>> stats(size_t(c.heads_q));
  const int n_heads = int(sel.heads.size());

#pragma omp parallel for schedule(dynamic)
  for (int hi = 0; hi < n_heads; ++hi) {
    const int h = sel.heads[size_t(hi)], hkv = h / gqa;
    const double sigma = sigma_of(h);
    std::vector<RowStats>& st = stats[size_t(h)];
    st.assign(size_t(l.total_q()), RowStats{});
    std::vector<double> sc, pr, o(size_t(D), 0.0), omag(size_t(D), 0.0), vabs(size_t(D), 0.0);
    std::vector<int64_t> js;
    for (int s = 0; s < l.seqs; ++s) {
      const int64_t sq = l.sq(s), sk = l.sk(s);
      for (int64_t i = 0; i < sq; ++i) {
        const double* qi = &q[size_t(l.q_offset(s, i, h))];
        const double* doi = &d_o[size_t(l.q_offset(s, i, h))];
        js.clear();
        sc.clear();
        for (int64_t j = 0; j < sk; ++j) {
          if (!is_visible(c.mask, j, query_position(i, sq, sk))) continue;
          js.push_back(j);
          sc.push_back(scale * dot(qi, &k[size_t(l.kv_offset(s, j, hkv))]));
        }
        double m = sigma;
        for (const double x : sc)
          m = std::max(m, x);
        if (m == -INFINITY) continue;  // nothing visible, no sink: every gradient term is 0
        double z = std::exp(sigma - m);
        for (const double x : sc)
          z += std::exp(x - m);
        RowStats& r = st[size_t(l.cu_q[size_t(s)] + i)];
        r.lse = m + std::log(z);
        pr.resize(sc.size());
        std::fill(o.begin(), o.end(), 0.0);
        std::fill(omag.begin(), omag.end(), 0.0);
        std::fill(vabs.begin(), vabs.end(), 0.0);
        for (size_t t = 0; t < js.size(); ++t) {
          pr[t] = std::exp(sc[t] - r.lse);
          const double* vj = &v[size_t(l.kv_offset(s, js[t], hkv))];
          for (int d = 0; d < D; ++d) {
            o[size_t(d)] += pr[t] * vj[d];
            omag[size_t(d)] += pr[t] * std::fabs(vj[d]);
            vabs[size_t(d)] += std::fabs(vj[d]);
          }
        }
        for (size_t t = 0; t < js.size(); ++t)
          r.w += pr[t];
        for (int d = 0; d < D; ++d)
          r.osum += std::fabs(o[size_t(d)]);
        r.delta = g.dlse.empty() ? 0.0 : -double(g.dlse[size_t(l.lse_offset(s, h, i))]);
        for (int d = 0; d < D; ++d) {
          r.delta += doi[d] * o[size_t(d)];
          r.dmag += std::fabs(doi[d]) * omag[size_t(d)];
          r.dfloor += std::fabs(doi[d]) * (1 + vabs[size_t(d)]);
        }
        if (!in.sinks.empty()) {
          const double ps = std::exp(sigma - r.lse);
          e.dsinks[size_t(h)] -= ps * r.delta;
          e.mdsinks[size_t(h)] += ps * (std::fabs(r.delta) + r.dmag);
          e.fdsinks[size_t(h)] += ps * r.dfloor;
        }
        if (!sel.rows[size_t(s)][size_t(i)]) continue;
        const size_t qo = size_t(l.q_offset(s, i, h));
        for (size_t t = 0; t < js.size(); ++t) {
          const double* kj = &k[size_t(l.kv_offset(s, js[t], hkv))];
          const double* vj = &v[size_t(l.kv_offset(s, js[t], hkv))];
          const double dp = dot(doi, vj);
          const double ds = pr[t] * (dp - r.delta);
          const double w =
              pr[t] * (std::fabs(dp - r.delta) + r.dmag + (do_rounded ? absdot(doi, vj) : 0));
          const double wf = 1 + pr[t] * r.dfloor + (do_rounded ? do_floor(pr[t], r, vj) : 0);
          for (int d = 0; d < D; ++d) {
            e.dq[qo + size_t(d)] += scale * ds * kj[d];
            e.mdq[qo + size_t(d)] += scale * w * std::fabs(kj[d]);
            e.fdq[qo + size_t(d)] += scale * wf * std::fabs(kj[d]);
          }
        }
      }
    }
  }
  if (!sel.dkdv) return e;

  // Phase 2: every selected key of every KV group whose heads were all computed.
  struct KeyItem {
    int s, hkv;
    int64_t j;
  };
  std::vector<KeyItem> items;
  for (int hkv = 0; hkv < c.heads_kv; ++hkv) {
    if (stats[size_t(hkv * gqa)].empty()) continue;
    for (int s = 0; s < l.seqs; ++s)
      for (int64_t j = 0; j < l.sk(s); ++j)
        if (sel.keys[size_t(s)][size_t(j)]) items.push_back({s, hkv, j});
  }
#pragma omp parallel for schedule(dynamic, 16)
  for (size_t it = 0; it < items.size(); ++it) {
    const auto [s, hkv, j] = items[it];
    const int64_t sq = l.sq(s), sk = l.sk(s);
    const size_t ko = size_t(l.kv_offset(s, j, hkv));
    const double *kj = &k[ko], *vj = &v[ko];
    for (int h = hkv * gqa; h < (hkv + 1) * gqa; ++h) {
      for (int64_t i = 0; i < sq; ++i) {
        if (!is_visible(c.mask, j, query_position(i, sq, sk))) continue;
        const RowStats& r = stats[size_t(h)][size_t(l.cu_q[size_t(s)] + i)];
        const size_t qo = size_t(l.q_offset(s, i, h));
        const double* qi = &q[qo];
        const double* doi = &d_o[qo];
        const double pij = std::exp(scale * dot(qi, kj) - r.lse);
        const double dp = dot(doi, vj);
        const double ds = pij * (dp - r.delta);
        const double w =
            pij * (std::fabs(dp - r.delta) + r.dmag + (do_rounded ? absdot(doi, vj) : 0));
        const double wf = 1 + pij * r.dfloor + (do_rounded ? do_floor(pij, r, vj) : 0);
        for (int d = 0; d < D; ++d) {
          e.dk[ko + size_t(d)] += scale * ds * qi[d];
          e.mdk[ko + size_t(d)] += scale * w * std::fabs(qi[d]);
          e.fdk[ko + size_t(d)] += scale * wf * std::fabs(qi[d]);
          e.dv[ko + size_t(d)] += pij * doi[d];
          e.mdv[ko + size_t(d)] += pij * std::fabs(doi[d]);
          e.fdv[ko + size_t(d)] += std::fabs(doi[d]) + (do_rounded ? pij / r.w : 0);
        }
      }
    }
  }
  return e;
}

// Elements of `got` (those `checked` says) outside the bound around `exact`, the first few named.
int64_t count_outside(const std::string& what, const std::vector<float>& got,
                      const std::vector<double>& exact, const std::vector<double>& mag,
                      const std::vector<double>& floor, const std::vector<char>& checked, DType t,
                      double terms, std::string* report) {
  const double u = unit_roundoff(t), eta = dtype_min_subnormal(t) / 2;
  const double k = 4 * u + terms * std::ldexp(1.0, -24);
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!checked[i]) continue;
    const double err = std::fabs(double(got[i]) - exact[i]);
    const double bound = k * mag[i] + u * std::fabs(exact[i]) + 2 * eta * (floor[i] + 1);
    if (!(err <= bound)) {  // NaN fails too
      if (++bad <= 5)
        *report += fmt::format("{}[{}] = {:.6g}, exact {:.6g}, error {:.3g}, bound {:.3g}\n", what,
                               i, got[i], exact[i], err, bound);
    }
  }
  return bad;
}

// Flags of the checked elements of q-shaped and k-shaped gradients and of dsinks.
struct Checked {
  std::vector<char> q, k, sinks;
};
Checked checked_of(const CaseSpec& c, const Layout& l, const Selection& sel) {
  Checked ch;
  const int D = c.head_dim;
  ch.q.assign(size_t(l.total_q() * c.heads_q * D), 0);
  ch.k.assign(size_t(l.total_k() * c.heads_kv * D), 0);
  ch.sinks.assign(c.has_sink() ? size_t(c.heads_q) : 0, 0);
  for (const int h : sel.heads) {
    if (!ch.sinks.empty()) ch.sinks[size_t(h)] = 1;
    for (int s = 0; s < l.seqs; ++s)
      for (int64_t i = 0; i < l.sq(s); ++i)
        if (sel.rows[size_t(s)][size_t(i)]) std::fill_n(ch.q.begin() + l.q_offset(s, i, h), D, 1);
  }
  if (sel.dkdv) {
    for (int hkv = 0; hkv * c.gqa() <= sel.heads.back(); ++hkv)
      for (int s = 0; s < l.seqs; ++s)
        for (int64_t j = 0; j < l.sk(s); ++j)
          if (sel.keys[size_t(s)][size_t(j)])
            std::fill_n(ch.k.begin() + l.kv_offset(s, j, hkv), D, 1);
  }
  return ch;
}

// Runs the forward and backward of `c` on the device and checks every gradient element.
void expect_gradients_within_bound(const Impl& impl, const CaseSpec& c, bool with_dlse,
                                   bool do_rounded = false) {
  SCOPED_TRACE(impl.name() + " backward " + case_label(c) + (with_dlse ? " dlse" : "") + " seed " +
               std::to_string(c.seed));
  const Support sup = impl.supports_backward(c);
  ASSERT_TRUE(sup.ok) << sup.reason;
  const Inputs in = generate(c);
  const ForwardResult fwd = impl.forward(c, in);
  const GradInputs g = make_grads(c, in, with_dlse);
  const BackwardResult r = impl.backward(c, in, fwd, g);
  // Past 2^24 (rows x keys x heads) the reference computes a declared sample (select_sample).
  double work = 0;
  for (int s = 0; s < in.layout.seqs; ++s)
    work += double(in.layout.sq(s)) * double(in.layout.sk(s)) * c.heads_q;
  const Selection sel =
      work > double(1 << 24) ? select_sample(c, in.layout, c.seed) : select_all(c, in.layout);
  const Exact e = exact_backward(c, in, g, sel, do_rounded);
  const Checked ch = checked_of(c, in.layout, sel);
  ASSERT_EQ(r.dsinks.size(), e.dsinks.size());
  const DType t = c.dtype;
  std::string report;
  int64_t bad = count_outside("dq", r.dq.to_float(), e.dq, e.mdq, e.fdq, ch.q, t, e.terms, &report);
  bad += count_outside("dk", r.dk.to_float(), e.dk, e.mdk, e.fdk, ch.k, t, e.terms, &report);
  bad += count_outside("dv", r.dv.to_float(), e.dv, e.mdv, e.fdv, ch.k, t, e.terms, &report);
  bad += count_outside("dsinks", r.dsinks, e.dsinks, e.mdsinks, e.fdsinks, ch.sinks, t, e.terms,
                       &report);
  EXPECT_EQ(bad, 0) << report;
}

struct SweepParam {
  DType dtype;
  MaskKind mask;
  int head_dim;
  std::string name() const {
    return std::string(dtype_name(dtype)) + "_" + std::string(mask_name(mask)) + "_hd" +
           std::to_string(head_dim);
  }
  friend void PrintTo(const SweepParam& p, std::ostream* os) { *os << p.name(); }
};

std::vector<SweepParam> sweep_params() {
  std::vector<SweepParam> v;
  for (const DType t : {DType::bf16, DType::f16})
    for (const MaskKind m :
         {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens})
      for (const int hd : {64, 128})
        v.push_back({t, m, hd});
  return v;
}

CaseSpec sweep_case(const SweepParam& p, int hq, int hkv, int64_t sq, int64_t sk, uint64_t seed) {
  CaseSpec c;
  c.dtype = p.dtype;
  c.mask = mask_of(p.mask);
  c.head_dim = p.head_dim;
  c.heads_q = hq;
  c.heads_kv = hkv;
  c.seqlen_q = sq;
  c.seqlen_k = sk;
  c.batch = sq * sk < 100000 ? 2 : 1;  // a fixed-length batch exercises the lse layout
  c.seed = seed;
  return c;
}

class TiledCudaBwdSweep : public ::testing::TestWithParam<SweepParam> {};

// GQA 1, 8 and 64 over the ragged lengths plus Sq > Sk (rows that see nothing), sinks
// band:4:8 and none, dlse on and off. Long cases are checked on a declared sample.
TEST_P(TiledCudaBwdSweep, WithinBound) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  const std::pair<int, int> heads[] = {{4, 4}, {16, 2}, {64, 1}};
  const std::pair<int64_t, int64_t> lengths[] = {{1, 1},     {1, 4097},    {113, 203},
                                                 {300, 130}, {1023, 1024}, {4224, 4224}};
  uint64_t n = 0;
  for (const auto& [hq, hkv] : heads) {
    for (const auto& [sq, sk] : lengths) {
      CaseSpec c = sweep_case(GetParam(), hq, hkv, sq, sk, seed + n);
      if (n % 3 == 2) c.sink.kind = SinkKind::none;
      expect_gradients_within_bound(tiled_cuda(), c, n % 2 == 1);
      ++n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, TiledCudaBwdSweep, ::testing::ValuesIn(sweep_params()),
                         [](const ::testing::TestParamInfo<SweepParam>& info) {
                           return info.param.name();
                         });

// Packed batches, including a sequence with more queries than keys, and odd windows.
TEST(TiledCudaBwdEdge, VarlenAndWindows) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const MaskKind m :
       {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens}) {
    for (const int hd : {64, 128}) {
      CaseSpec c;
      c.dtype = n % 2 ? DType::f16 : DType::bf16;
      c.head_dim = hd;
      c.mask = mask_of(m);
      c.mask.window = 1 + 37 * int64_t(n);  // 1, 38, 75, ...
      c.varlen_q = {1, 113, 400, 7, 300};
      c.varlen_k = {700, 203, 401, 7, 100};
      c.heads_q = 16;
      c.heads_kv = 2;
      c.seed = seed + n;
      expect_gradients_within_bound(tiled_cuda(), c, n % 2 == 0);
      ++n;
    }
  }
}

// The same inputs give the same gradient bits (all four) on 20 runs.
TEST(TiledCudaBwdEdge, TwentyRerunsBitwise) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  for (const int hd : {64, 128}) {
    CaseSpec c;
    c.dtype = DType::bf16;
    c.head_dim = hd;
    c.mask = mask_of(MaskKind::causal);
    c.varlen_q = {1500, 77, 640};
    c.varlen_k = {1500, 300, 1000};
    c.heads_q = 16;
    c.heads_kv = 2;
    c.seed = seed + uint64_t(hd);
    SCOPED_TRACE(case_label(c) + " seed " + std::to_string(c.seed));
    const Inputs in = generate(c);
    const ForwardResult fwd = tiled_cuda().forward(c, in);
    const GradInputs g = make_grads(c, in, true);
    const auto prepared = tiled_cuda().prepare_backward(c, in, fwd, g);
    ASSERT_NE(prepared, nullptr);
    prepared->run();
    const BackwardResult first = prepared->fetch();
    auto same = [](const Tensor& a, const Tensor& b) {
      return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), size_t(a.nbytes())) == 0;
    };
    for (int rep = 1; rep < 20; ++rep) {
      prepared->run();
      const BackwardResult r = prepared->fetch();
      ASSERT_TRUE(same(r.dq, first.dq)) << "dq differs on run " << rep;
      ASSERT_TRUE(same(r.dk, first.dk)) << "dk differs on run " << rep;
      ASSERT_TRUE(same(r.dv, first.dv)) << "dv differs on run " << rep;
      ASSERT_EQ(std::memcmp(r.dsinks.data(), first.dsinks.data(), r.dsinks.size() * sizeof(float)),
                0)
          << "dsinks differ on run " << rep;
    }
  }
}

// The warpgroup-MMA kernels compute the mma.sync kernels' products in the same order: all four
// gradients bit for bit the same, over both head dims, every mask, GQA 1 and 8, both dtypes,
// partial tiles, rows that see nothing and a packed batch.
TEST(TiledCudaBwdEdge, WarpgroupKernelsGiveTheMmaSyncBits) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const auto& [t, hd] : {std::pair{DType::bf16, 64}, std::pair{DType::f16, 64},
                              std::pair{DType::bf16, 128}, std::pair{DType::f16, 128}}) {
    for (const MaskKind m :
         {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens}) {
      CaseSpec c;
      c.dtype = t;
      c.head_dim = hd;
      c.mask = mask_of(m);
      if (n % 2 == 0) {
        c.varlen_q = {1, 300, 513, 64};
        c.varlen_k = {700, 130, 513, 65};
      } else {
        c.seqlen_q = c.seqlen_k = 1023;
      }
      c.heads_q = n % 4 < 2 ? 16 : 4;
      c.heads_kv = n % 4 < 2 ? 2 : 4;
      c.seed = seed + n;
      SCOPED_TRACE(case_label(c) + " seed " + std::to_string(c.seed));
      const Inputs in = generate(c);
      const ForwardResult fwd = tiled_cuda().forward(c, in);
      const GradInputs g = make_grads(c, in, n % 2 == 1);
      tiled_cuda::BwdDeviceCase bwd(c, in, fwd, g);
      bwd.run();
      const BackwardResult wg = bwd.fetch();
      bwd.use_mma_sync(true);
      bwd.run();
      const BackwardResult sync = bwd.fetch();
      for (const auto& [name, a, b] :
           {std::tuple{"dq", &wg.dq, &sync.dq}, std::tuple{"dk", &wg.dk, &sync.dk},
            std::tuple{"dv", &wg.dv, &sync.dv}}) {
        ASSERT_EQ(a->nbytes(), b->nbytes());
        EXPECT_EQ(std::memcmp(a->data(), b->data(), size_t(a->nbytes())), 0)
            << name << " differs between the warpgroup and mma.sync kernels";
      }
      ASSERT_EQ(wg.dsinks.size(), sync.dsinks.size());
      EXPECT_EQ(std::memcmp(wg.dsinks.data(), sync.dsinks.data(), wg.dsinks.size() * sizeof(float)),
                0);
      ++n;
    }
  }
}

// lse_renorm/cuda's backward (the renorm's row kernels, then tiled/cuda's without the sink):
// the same exact gradients, its bound also taking do_ns's rounding; sinks band:4:8 and none,
// dlse on and off, GQA 1 and 8, a packed batch.
class LseRenormBwdSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(LseRenormBwdSweep, WithinBound) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const Impl& impl = gpu_cases::impl_named("lse_renorm/cuda");
  const uint64_t seed = testing::test_seed() + 1000;
  const std::pair<int, int> heads[] = {{4, 4}, {16, 2}};
  const std::pair<int64_t, int64_t> lengths[] = {{1, 1}, {113, 203}, {300, 130}, {1023, 1024}};
  uint64_t n = 0;
  for (const auto& [hq, hkv] : heads) {
    for (const auto& [sq, sk] : lengths) {
      CaseSpec c = sweep_case(GetParam(), hq, hkv, sq, sk, seed + n);
      if (n % 3 == 2) c.sink.kind = SinkKind::none;
      expect_gradients_within_bound(impl, c, n % 2 == 1, /*do_rounded=*/true);
      ++n;
    }
  }
  CaseSpec c = sweep_case(GetParam(), 16, 2, 1, 1, seed + n);
  c.varlen_q = {1, 113, 400, 7, 300};
  c.varlen_k = {700, 203, 401, 7, 100};
  expect_gradients_within_bound(impl, c, true, /*do_rounded=*/true);
  EXPECT_FALSE(gpu_cases::impl_named("lse_renorm-lse_cast/cuda").supports_backward(c).ok);
}

INSTANTIATE_TEST_SUITE_P(All, LseRenormBwdSweep, ::testing::ValuesIn(sweep_params()),
                         [](const ::testing::TestParamInfo<SweepParam>& info) {
                           return info.param.name();
                         });

// The backward oracle and the gradient policy (oracle/grad_verdict.h) on the sweep:
// tiled/cuda, lse_renorm/cuda and both eager_concat/cuda variants (dlse-free cases) over GQA 1/8/64
// x 1x1, 1x4097, 113x203, 1023x1024, 4224x4224 (oracle sampling on long cases,
// gpu_cases::sample_if_large), sinks band:4:8, dlse on and off.
class CudaBwdPolicySweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(CudaBwdPolicySweep, PassesGradientPolicy) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed() + 2000;
  const std::pair<int, int> heads[] = {{4, 4}, {16, 2}, {64, 1}};
  const std::pair<int64_t, int64_t> lengths[] = {
      {1, 1}, {1, 4097}, {113, 203}, {1023, 1024}, {4224, 4224}};
  uint64_t n = 0;
  for (const auto& [hq, hkv] : heads) {
    for (const auto& [sq, sk] : lengths) {
      CaseSpec c = sweep_case(GetParam(), hq, hkv, sq, sk, seed + n);
      c.grad = GradKind::d_o;
      c.dlse = n % 2 ? DlseKind::normal : DlseKind::none;
      gpu_cases::sample_if_large(c);
      const testing::GradSetup setup(c);
      for (const char* name : {"tiled/cuda", "lse_renorm/cuda", "eager_concat/cuda",
                               "eager_concat-softmax_fp32/cuda"}) {
        const Impl& impl = gpu_cases::impl_named(name);
        // eager returns no lse: its backward declines dlse (EagerCudaBwdSupport).
        if (impl.family() == "eager_concat" && c.has_dlse()) continue;
        const testing::GradJudged j = testing::judge_gradients(
            c, setup.in, setup.ref, testing::forward_backward(impl, c, setup));
        EXPECT_EQ(j.verdict.status, Status::pass) << name << " on " << case_label(c) << " seed "
                                                  << c.seed << ": " << testing::grad_summary(j);
      }
      ++n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, CudaBwdPolicySweep, ::testing::ValuesIn(sweep_params()),
                         [](const ::testing::TestParamInfo<SweepParam>& info) {
                           return info.param.name();
                         });

TEST(TiledCudaBwdEdge, SupportReasons) {
  CaseSpec c;
  c.dtype = DType::f32;
  EXPECT_FALSE(tiled_cuda().supports_backward(c).ok);
  c.dtype = DType::bf16;
  c.head_dim = 96;
  EXPECT_FALSE(tiled_cuda().supports_backward(c).ok);
}

// Small cases for compute-sanitizer memcheck and racecheck (tools/gpu-check.sh): every kernel
// of the backward, both head dims, masks with partial tiles, GQA, a packed batch.
TEST(TiledCudaBwdSanitize, SmallCases) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const MaskKind m : {MaskKind::causal, MaskKind::sink_tokens}) {
    for (const int hd : {64, 128}) {
      CaseSpec c;
      c.head_dim = hd;
      c.mask = mask_of(m);
      c.mask.window = 40;
      c.varlen_q = {70, 5};
      c.varlen_k = {90, 150};
      c.heads_q = 4;
      c.heads_kv = 2;
      c.seed = seed + n;
      expect_gradients_within_bound(tiled_cuda(), c, n % 2 == 0);
      ++n;
    }
  }
}

}  // namespace
}  // namespace sinkbench
