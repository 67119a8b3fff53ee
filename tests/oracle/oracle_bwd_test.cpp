// tests/oracle/oracle_bwd_test.cpp — the FP64 backward oracle against central finite differences
// of a long-double forward on tiny cases, analytic limits (σ → ±∞, constant V), GQA as repeated
// heads, and sampled rows/keys/heads against the full evaluation.
#include "oracle/oracle_bwd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

const LogitErrorModel kNoModel{};

CaseSpec tiny_case(MaskRule mask, int hq, int hkv, SinkDist sink, DlseKind dlse, uint64_t salt) {
  CaseSpec c;
  c.dtype = DType::f32;
  c.seqlen_q = 5;
  c.seqlen_k = 7;
  c.heads_q = hq;
  c.heads_kv = hkv;
  c.head_dim = 8;
  c.mask = mask;
  c.sink = sink;
  c.grad = GradKind::d_o;
  c.dlse = dlse;
  c.seed = testing::test_seed() + salt;
  return c;
}

// Inputs as long double, perturbable one element at a time.
struct Vals {
  std::vector<long double> q, k, v, sinks;
};

Vals vals_of(const Inputs& in) {
  Vals x;
  for (float f : in.q.to_float())
    x.q.push_back(f);
  for (float f : in.k.to_float())
    x.k.push_back(f);
  for (float f : in.v.to_float())
    x.v.push_back(f);
  for (float f : in.sinks)
    x.sinks.push_back(f);
  return x;
}

// The loss Σ dO·o + Σ dlse·lse straight from DESIGN §1, in long double.
long double loss(const CaseSpec& c, const Layout& L, const Vals& x, const GradInputs& g) {
  const int D = c.head_dim;
  const long double scale = c.scale_f32();
  long double total = 0;
  for (int s = 0; s < L.seqs; ++s) {
    for (int64_t i = 0; i < L.sq(s); ++i) {
      for (int h = 0; h < c.heads_q; ++h) {
        const int hk = h / c.gqa();
        const long double sigma = x.sinks.empty() ? -INFINITY : x.sinks[size_t(h)];
        std::vector<long double> logit;
        std::vector<int64_t> keys;
        long double mx = sigma;
        for (int64_t j = 0; j < L.sk(s); ++j) {
          if (!is_visible(c.mask, j, query_position(i, L.sq(s), L.sk(s)))) continue;
          long double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += x.q[size_t(L.q_offset(s, i, h) + d)] * x.k[size_t(L.kv_offset(s, j, hk) + d)];
          logit.push_back(scale * dot);
          keys.push_back(j);
          mx = std::max(mx, logit.back());
        }
        if (mx == -INFINITY) continue;
        long double z = x.sinks.empty() ? 0 : std::exp(sigma - mx);
        for (long double l : logit)
          z += std::exp(l - mx);
        const long double lse = mx + std::log(z);
        if (!g.dlse.empty()) total += g.dlse[size_t(L.lse_offset(s, h, i))] * lse;
        for (size_t t = 0; t < keys.size(); ++t) {
          const long double p = std::exp(logit[t] - lse);
          for (int d = 0; d < D; ++d)
            total += g.d_o.get(L.q_offset(s, i, h) + d) * p *
                     x.v[size_t(L.kv_offset(s, keys[t], hk) + d)];
        }
      }
    }
  }
  return total;
}

long double central_difference(const std::function<long double()>& f, long double& x) {
  const long double h = 1e-6L * std::max<long double>(1, std::fabs(x)), x0 = x;
  x = x0 + h;
  const long double up = f();
  x = x0 - h;
  const long double down = f();
  x = x0;
  return (up - down) / (2 * h);
}

// Finite differences agree with the oracle to 1e-8 of the gradient's scale m (central
// differences in long double: truncation ~h² = 1e-12, cancellation ~1e-19/h = 1e-13).
void expect_matches_finite_differences(const CaseSpec& c) {
  const Inputs in = generate(c);
  const GradInputs g = generate_grads(c, in.layout);
  const OracleBackward ref = oracle_backward(c, in, g, kNoModel);
  ASSERT_TRUE(ref.rows.complete);
  Vals x = vals_of(in);
  const auto f = [&] { return loss(c, in.layout, x, g); };
  const auto check = [&](const GradRef& gr, size_t k, long double& var, const char* what) {
    const long double fd = central_difference(f, var);
    EXPECT_NEAR(double(fd), gr.value[k], 1e-8 * std::max(1.0, gr.m[k]))
        << what << " element " << k << " of " << case_label(c) << " seed " << c.seed;
  };
  // Complete cases lay dq out as q, dk/dv as k (rows and keys in order, every head).
  for (size_t k = 0; k < x.q.size(); ++k)
    check(ref.dq, k, x.q[k], "dq");
  for (size_t k = 0; k < x.k.size(); ++k)
    check(ref.dk, k, x.k[k], "dk");
  for (size_t k = 0; k < x.v.size(); ++k)
    check(ref.dv, k, x.v[k], "dv");
  ASSERT_EQ(ref.dsinks.value.size(), x.sinks.size());
  for (size_t k = 0; k < x.sinks.size(); ++k)
    check(ref.dsinks, k, x.sinks[k], "dsinks");
}

struct FdParam {
  const char* name;
  MaskRule mask;
  int hq, hkv;
  SinkDist sink;
  DlseKind dlse;
};

class OracleBwdFiniteDifferences : public ::testing::TestWithParam<FdParam> {};

TEST_P(OracleBwdFiniteDifferences, MatchesLongDoubleForward) {
  const FdParam& p = GetParam();
  expect_matches_finite_differences(tiny_case(p.mask, p.hq, p.hkv, p.sink, p.dlse, 0));
}

const SinkDist kBand{SinkKind::band, 1, 3};
const SinkDist kNoSink{SinkKind::none, 0, 0};

INSTANTIATE_TEST_SUITE_P(
    Tiny, OracleBwdFiniteDifferences,
    ::testing::Values(
        FdParam{"causal_sink_dlse", {MaskKind::causal}, 2, 1, kBand, DlseKind::normal},
        FdParam{"none_sink", {MaskKind::none}, 2, 2, kBand, DlseKind::none},
        FdParam{"causal_nosink_dlse", {MaskKind::causal}, 2, 1, kNoSink, DlseKind::normal},
        // Window 1 with Sq < Sk: every row sees exactly one key.
        FdParam{"window1_sink_dlse", {MaskKind::sliding_window, 1}, 4, 2, kBand, DlseKind::normal},
        FdParam{"sink_tokens_gqa", {MaskKind::sink_tokens, 2, 1}, 4, 1, kBand, DlseKind::normal}),
    [](const auto& info) { return std::string(info.param.name); });

// A case with a row that sees no key (Sq > Sk, causal): dσ gets +dlse from it, nothing else.
TEST(OracleBwd, RowsWithoutKeysMatchFiniteDifferences) {
  CaseSpec c = tiny_case({MaskKind::causal}, 2, 1, kBand, DlseKind::normal, 1);
  c.seqlen_q = 7;
  c.seqlen_k = 4;
  expect_matches_finite_differences(c);
}

CaseSpec small_case(SinkDist sink, DlseKind dlse, int hq, int hkv, uint64_t salt) {
  CaseSpec c = tiny_case({MaskKind::causal}, hq, hkv, sink, dlse, salt);
  c.seqlen_q = 37;
  c.seqlen_k = 45;
  c.head_dim = 16;
  return c;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v)
    m = std::max(m, std::fabs(x));
  return m;
}

TEST(OracleBwd, VeryNegativeSinkGivesPlainSoftmaxGradientsAndZeroSinkGradient) {
  const CaseSpec plain = small_case(kNoSink, DlseKind::normal, 4, 2, 2);
  CaseSpec sunk = plain;
  sunk.sink = {SinkKind::constant, -1e4, 0};
  const Inputs in_plain = generate(plain);
  Inputs in_sunk = in_plain;
  in_sunk.sinks.assign(4, -1e4f);
  const GradInputs g = generate_grads(plain, in_plain.layout);
  const OracleBackward a = oracle_backward(plain, in_plain, g, kNoModel);
  const OracleBackward b = oracle_backward(sunk, in_sunk, g, kNoModel);
  for (Grad gr : {Grad::dq, Grad::dk, Grad::dv}) {
    const double scale = max_abs(a.of(gr).value);
    ASSERT_GT(scale, 0);
    for (size_t k = 0; k < a.of(gr).value.size(); ++k)
      ASSERT_NEAR(a.of(gr).value[k], b.of(gr).value[k], 1e-13 * scale) << grad_name(gr) << k;
  }
  for (double ds : b.dsinks.value)
    EXPECT_EQ(ds, 0.0);
}

TEST(OracleBwd, VeryLargeSinkGivesZeroGradientsAndSinkGradientSumOfDlse) {
  CaseSpec c = small_case({SinkKind::constant, 1e4, 0}, DlseKind::normal, 4, 2, 3);
  const Inputs in = generate(c);
  const GradInputs g = generate_grads(c, in.layout);
  const OracleBackward r = oracle_backward(c, in, g, kNoModel);
  EXPECT_EQ(max_abs(r.dq.value), 0.0);
  EXPECT_EQ(max_abs(r.dk.value), 0.0);
  EXPECT_EQ(max_abs(r.dv.value), 0.0);
  // o = 0 and p_sink = 1, so D_i = -dlse_i and dσ_h = Σ_i dlse_i.
  for (size_t t = 0; t < r.rows.heads.size(); ++t) {
    double want = 0;
    for (int64_t i = 0; i < c.seqlen_q; ++i)
      want += g.dlse[size_t(in.layout.lse_offset(0, r.rows.heads[t], i))];
    EXPECT_NEAR(r.dsinks.value[t], want, 1e-12 * std::max(1.0, r.dsinks.m[t]));
  }
}

TEST(OracleBwd, ConstantValuesGiveZeroDqDkWithoutSinkOrDlse) {
  const CaseSpec c = small_case(kNoSink, DlseKind::none, 4, 2, 4);
  Inputs in = generate(c);
  for (int64_t t = 0; t < in.v.numel(); ++t)
    in.v.set(t, 0.75f);
  const GradInputs g = generate_grads(c, in.layout);
  const OracleBackward r = oracle_backward(c, in, g, kNoModel);
  for (Grad gr : {Grad::dq, Grad::dk}) {
    const GradRef& x = r.of(gr);
    for (size_t k = 0; k < x.value.size(); ++k)
      ASSERT_LE(std::fabs(x.value[k]), 1e-13 * std::max(1.0, x.m[k])) << grad_name(gr) << k;
  }
  EXPECT_GT(max_abs(r.dv.value), 0.0);
}

TEST(OracleBwd, GqaEqualsRepeatedHeadsWithDkDvSummed) {
  const int hq = 4, hkv = 2, gqa = 2;
  const CaseSpec grouped = small_case(kBand, DlseKind::normal, hq, hkv, 5);
  CaseSpec repeated = grouped;
  repeated.heads_kv = hq;
  const Inputs in_g = generate(grouped);
  Inputs in_r = generate(repeated);
  in_r.q = in_g.q;
  in_r.sinks = in_g.sinks;
  const Layout& L = in_g.layout;
  for (int64_t j = 0; j < L.total_k(); ++j)
    for (int h = 0; h < hq; ++h)
      for (int d = 0; d < grouped.head_dim; ++d) {
        const int64_t src = (j * hkv + h / gqa) * grouped.head_dim + d;
        const int64_t dst = (j * hq + h) * grouped.head_dim + d;
        in_r.k.set(dst, in_g.k.get(src));
        in_r.v.set(dst, in_g.v.get(src));
      }
  const GradInputs g = generate_grads(grouped, L);
  const OracleBackward a = oracle_backward(grouped, in_g, g, kNoModel);
  const OracleBackward b = oracle_backward(repeated, in_r, g, kNoModel);
  const double tol = 1e-13;
  for (size_t k = 0; k < a.dq.value.size(); ++k)
    ASSERT_NEAR(a.dq.value[k], b.dq.value[k], tol * std::max(1.0, a.dq.m[k]));
  for (size_t k = 0; k < a.dsinks.value.size(); ++k)
    ASSERT_NEAR(a.dsinks.value[k], b.dsinks.value[k], tol * std::max(1.0, a.dsinks.m[k]));
  const int D = grouped.head_dim;
  for (const auto& [ga, gb] : {std::pair{&a.dk, &b.dk}, std::pair{&a.dv, &b.dv}})
    for (int64_t j = 0; j < L.total_k(); ++j)
      for (int hk = 0; hk < hkv; ++hk)
        for (int d = 0; d < D; ++d) {
          double sum = 0;
          for (int t = 0; t < gqa; ++t)
            sum += gb->value[size_t((j * hq + hk * gqa + t) * D + d)];
          ASSERT_NEAR(ga->value[size_t((j * hkv + hk) * D + d)], sum,
                      tol * std::max(1.0, ga->m[size_t((j * hkv + hk) * D + d)]));
        }
}

// Sampled rows, keys and heads give the full evaluation's values at those places.
TEST(OracleBwd, SampledRowsKeysAndHeadsMatchTheFullEvaluation) {
  CaseSpec full = small_case(kBand, DlseKind::normal, 8, 2, 6);
  full.seqlen_q = 300;
  full.seqlen_k = 333;
  full.mask = {MaskKind::sliding_window, 70};
  CaseSpec sampled = full;
  sampled.sample_rows = 24;
  sampled.sample_heads = 3;
  const Inputs in = generate(full);
  const GradInputs g = generate_grads(full, in.layout);
  const LogitErrorModel model{1e-3, 1e-6};
  const OracleBackward a = oracle_backward(full, in, g, model);
  const OracleBackward b = oracle_backward(sampled, in, g, model);
  ASSERT_FALSE(b.rows.complete);
  ASSERT_LT(b.keys.size(), size_t(full.seqlen_k));
  const int D = full.head_dim;
  const auto near = [](double x, double y) {
    return std::fabs(x - y) <= 1e-12 * std::max(1.0, std::fabs(x)) + 1e-5 * std::fabs(x);
  };
  for (size_t r = 0; r < b.rows.size(); ++r)
    for (size_t t = 0; t < b.rows.heads.size(); ++t)
      for (int d = 0; d < D; ++d) {
        const size_t kb = (r * b.rows.heads.size() + t) * D + d;
        const size_t ka = (size_t(b.rows.row[r]) * 8 + size_t(b.rows.heads[t])) * D + d;
        ASSERT_NEAR(a.dq.value[ka], b.dq.value[kb], 1e-12 * std::max(1.0, a.dq.m[ka]));
        ASSERT_TRUE(near(a.dq.m[ka], b.dq.m[kb]) && near(a.dq.l[ka], b.dq.l[kb]));
      }
  for (size_t r = 0; r < b.keys.size(); ++r)
    for (size_t t = 0; t < b.keys.heads.size(); ++t)
      for (int d = 0; d < D; ++d) {
        const size_t kb = (r * b.keys.heads.size() + t) * D + d;
        const size_t ka = (size_t(b.keys.row[r]) * 2 + size_t(b.keys.heads[t])) * D + d;
        ASSERT_NEAR(a.dk.value[ka], b.dk.value[kb], 1e-12 * std::max(1.0, a.dk.m[ka]));
        ASSERT_NEAR(a.dv.value[ka], b.dv.value[kb], 1e-12 * std::max(1.0, a.dv.m[ka]));
        ASSERT_EQ(a.dk.terms[ka / D], b.dk.terms[kb / D]);
      }
  for (size_t t = 0; t < b.rows.heads.size(); ++t)
    ASSERT_NEAR(a.dsinks.value[size_t(b.rows.heads[t])], b.dsinks.value[t],
                1e-12 * std::max(1.0, b.dsinks.m[t]));
}

}  // namespace
}  // namespace sinkbench
