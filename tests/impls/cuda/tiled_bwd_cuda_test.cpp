// tests/impls/cuda/tiled_bwd_cuda_test.cpp — the tiled/cuda backward pass (dq, dk, dv, dsinks)
// against an exact double-precision backward of the same dtype-rounded inputs (DESIGN §1
// formulas) over bf16/fp16 x masks x GQA 1/8/64 x ragged and packed lengths x head dims 64/128,
// sinks band:4:8 and none, dlse on and off; 20 reruns bitwise identical; every gradient element
// written (guarded, NaN-poisoned buffers); small cases for compute-sanitizer
// (TiledCudaBwdSanitize).
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
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "cases/mask.h"
#include "cases/rng.h"
#include "core/dtype.h"
#include "impls/impl.h"
#include "tests/impls/cuda/gpu_cases.h"
#include "tests/impls/cuda/gpu_test_util.h"
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

// Exact gradients (double) and their magnitude sums M (see the file comment).
struct Exact {
  std::vector<double> dq, dk, dv, dsinks;
  std::vector<double> mdq, mdk, mdv, mdsinks;
  std::vector<double> fdq, fdk, fdv, fdsinks;  // underflow floors F
  double terms = 0;                            // the most terms any gradient element sums
};

Exact exact_backward(const CaseSpec& c, const Inputs& in, const GradInputs& g) {
  const Layout& l = in.layout;
  const int D = c.head_dim, gqa = c.gqa();
  const double scale = double(in.scale);
  const std::vector<double> q = in.q.to_double(), k = in.k.to_double(), v = in.v.to_double(),
                            d_o = g.d_o.to_double();
  Exact e;
  e.dq.assign(q.size(), 0);
  e.mdq.assign(q.size(), 0);
  e.dk.assign(k.size(), 0);
  e.mdk.assign(k.size(), 0);
  e.dv.assign(k.size(), 0);
  e.mdv.assign(k.size(), 0);
  e.dsinks.assign(in.sinks.size(), 0);
  e.mdsinks.assign(in.sinks.size(), 0);
  e.fdq.assign(q.size(), 0);
  e.fdk.assign(k.size(), 0);
  e.fdv.assign(k.size(), 0);
  e.fdsinks.assign(in.sinks.size(), 0);
  std::vector<double> sc, pr, o(size_t(D), 0.0), omag(size_t(D), 0.0), vabs(size_t(D), 0.0);
  std::vector<int64_t> js;
  for (int s = 0; s < l.seqs; ++s) {
    const int64_t sq = l.sq(s), sk = l.sk(s);
    e.terms = std::max({e.terms, double(sk), double(sq * gqa)});
    for (int h = 0; h < c.heads_q; ++h) {
      const int hkv = h / gqa;
      const double sigma = in.sinks.empty() ? -INFINITY : double(in.sinks[size_t(h)]);
      for (int64_t i = 0; i < sq; ++i) {
        const double* qi = &q[size_t(l.q_offset(s, i, h))];
        const double* doi = &d_o[size_t(l.q_offset(s, i, h))];
        js.clear();
        sc.clear();
        for (int64_t j = 0; j < sk; ++j) {
          if (!is_visible(c.mask, j, query_position(i, sq, sk))) continue;
          const double* kj = &k[size_t(l.kv_offset(s, j, hkv))];
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += qi[d] * kj[d];
          js.push_back(j);
          sc.push_back(scale * dot);
        }
        double m = sigma;
        for (const double x : sc)
          m = std::max(m, x);
        if (m == -INFINITY) continue;  // nothing visible, no sink: every gradient term is 0
        double z = std::exp(sigma - m);
        for (const double x : sc)
          z += std::exp(x - m);
        const double lse = m + std::log(z);
        pr.resize(sc.size());
        std::fill(o.begin(), o.end(), 0.0);
        std::fill(omag.begin(), omag.end(), 0.0);
        std::fill(vabs.begin(), vabs.end(), 0.0);
        for (size_t t = 0; t < js.size(); ++t) {
          pr[t] = std::exp(sc[t] - lse);
          const double* vj = &v[size_t(l.kv_offset(s, js[t], hkv))];
          for (int d = 0; d < D; ++d) {
            o[size_t(d)] += pr[t] * vj[d];
            omag[size_t(d)] += pr[t] * std::fabs(vj[d]);
            vabs[size_t(d)] += std::fabs(vj[d]);
          }
        }
        const int64_t li = l.lse_offset(s, h, i);
        double delta = g.dlse.empty() ? 0.0 : -double(g.dlse[size_t(li)]), dmag = 0, dfloor = 0;
        for (int d = 0; d < D; ++d) {
          delta += doi[d] * o[size_t(d)];
          dmag += std::fabs(doi[d]) * omag[size_t(d)];
          dfloor += std::fabs(doi[d]) * (1 + vabs[size_t(d)]);
        }
        const size_t qo = size_t(l.q_offset(s, i, h));
        for (size_t t = 0; t < js.size(); ++t) {
          const size_t ko = size_t(l.kv_offset(s, js[t], hkv));
          double dp = 0;
          for (int d = 0; d < D; ++d)
            dp += doi[d] * v[ko + size_t(d)];
          const double ds = pr[t] * (dp - delta);
          const double w = pr[t] * (std::fabs(dp - delta) + dmag);
          const double wf = 1 + pr[t] * dfloor;
          for (int d = 0; d < D; ++d) {
            const size_t a = qo + size_t(d), b = ko + size_t(d);
            e.dq[a] += scale * ds * k[b];
            e.mdq[a] += scale * w * std::fabs(k[b]);
            e.dk[b] += scale * ds * q[a];
            e.mdk[b] += scale * w * std::fabs(q[a]);
            e.dv[b] += pr[t] * doi[d];
            e.mdv[b] += pr[t] * std::fabs(doi[d]);
            e.fdq[a] += scale * wf * std::fabs(k[b]);
            e.fdk[b] += scale * wf * std::fabs(q[a]);
            e.fdv[b] += std::fabs(doi[d]);
          }
        }
        if (!in.sinks.empty()) {
          const double ps = std::exp(sigma - lse);
          e.dsinks[size_t(h)] -= ps * delta;
          e.mdsinks[size_t(h)] += ps * (std::fabs(delta) + dmag);
          e.fdsinks[size_t(h)] += ps * dfloor;
        }
      }
    }
  }
  return e;
}

// Elements of `got` outside the bound around `exact`, with the first few named.
int64_t count_outside(const std::string& what, const std::vector<float>& got,
                      const std::vector<double>& exact, const std::vector<double>& mag,
                      const std::vector<double>& floor, DType t, double terms,
                      std::string* report) {
  const double u = unit_roundoff(t), eta = dtype_min_subnormal(t) / 2;
  const double k = 4 * u + terms * std::ldexp(1.0, -24);
  int64_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
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

// Runs the forward and backward of `c` on the device and checks every gradient element.
void expect_gradients_within_bound(const CaseSpec& c, bool with_dlse) {
  SCOPED_TRACE("tiled/cuda backward " + case_label(c) + (with_dlse ? " dlse" : "") + " seed " +
               std::to_string(c.seed));
  const Impl& impl = tiled_cuda();
  const Support sup = impl.supports_backward(c);
  ASSERT_TRUE(sup.ok) << sup.reason;
  const Inputs in = generate(c);
  const ForwardResult fwd = impl.forward(c, in);
  const GradInputs g = make_grads(c, in, with_dlse);
  const BackwardResult r = impl.backward(c, in, fwd, g);
  const Exact e = exact_backward(c, in, g);
  ASSERT_EQ(r.dsinks.size(), e.dsinks.size());
  const DType t = c.dtype;
  std::string report;
  int64_t bad = count_outside("dq", r.dq.to_float(), e.dq, e.mdq, e.fdq, t, e.terms, &report);
  bad += count_outside("dk", r.dk.to_float(), e.dk, e.mdk, e.fdk, t, e.terms, &report);
  bad += count_outside("dv", r.dv.to_float(), e.dv, e.mdv, e.fdv, t, e.terms, &report);
  bad += count_outside("dsinks", r.dsinks, e.dsinks, e.mdsinks, e.fdsinks, t, e.terms, &report);
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

// GQA 1, 8 and 64 over ragged lengths (Sq > Sk leaves rows that see nothing), sinks band:4:8
// and none, dlse on and off.
TEST_P(TiledCudaBwdSweep, WithinBound) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  const std::pair<int, int> heads[] = {{4, 4}, {16, 2}, {64, 1}};
  const std::pair<int64_t, int64_t> lengths[] = {{1, 1}, {1, 4097}, {113, 203}, {300, 130}};
  uint64_t n = 0;
  for (const auto& [hq, hkv] : heads) {
    for (const auto& [sq, sk] : lengths) {
      CaseSpec c = sweep_case(GetParam(), hq, hkv, sq, sk, seed + n);
      if (n % 3 == 2) c.sink.kind = SinkKind::none;
      expect_gradients_within_bound(c, n % 2 == 1);
      ++n;
    }
  }
}

// Longer rows: many key tiles per query block and many query blocks per key block.
TEST_P(TiledCudaBwdSweep, LongWithinBound) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const CaseSpec c = sweep_case(GetParam(), 8, 1, 1023, 1024, testing::test_seed() + 100);
  expect_gradients_within_bound(c, true);
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
      expect_gradients_within_bound(c, n % 2 == 0);
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
      expect_gradients_within_bound(c, n % 2 == 0);
      ++n;
    }
  }
}

}  // namespace
}  // namespace sinkbench
