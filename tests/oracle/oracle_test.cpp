// tests/oracle/oracle_test.cpp — the FP64 oracle against exact analytic answers, invariances of
// the semantics, and a naive long-double evaluation on fresh random cases.
#include "oracle/oracle.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

constexpr double kRel = 1e-13;  // agreement required between FP64 evaluations of the same thing

CaseSpec make_case(int64_t sq, int64_t sk, int hq, int hkv, int d, MaskRule mask, uint64_t salt) {
  CaseSpec c;
  c.dtype = DType::f32;
  c.seqlen_q = sq;
  c.seqlen_k = sk;
  c.heads_q = hq;
  c.heads_kv = hkv;
  c.head_dim = d;
  c.mask = mask;
  c.seed = testing::test_seed() + salt;
  return c;
}

void set_all(Tensor& t, float value) {
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set(i, value);
}

// Naive long-double evaluation straight from DESIGN §1, for rows/heads of `rows`.
struct Naive {
  std::vector<long double> o, m, lse, l, lse_sens, l_acc, lse_sens_acc;
};
Naive naive(const CaseSpec& c, const Inputs& in, const RowSet& rows) {
  const Layout& L = in.layout;
  const int D = c.head_dim;
  Naive n;
  n.o.assign(rows.size() * rows.heads.size() * D, 0);
  n.lse.assign(rows.size() * rows.heads.size(), -INFINITY);
  n.l.assign(n.o.size(), 0);
  n.lse_sens.assign(n.lse.size(), 0);
  n.l_acc.assign(n.o.size(), 0);
  n.m.assign(n.o.size(), 0);
  n.lse_sens_acc.assign(n.lse.size(), 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int s = rows.seq[r];
    const int64_t i = rows.row[r], sq = L.sq(s), sk = L.sk(s);
    const int64_t p = i + sk - sq;
    for (size_t hi = 0; hi < rows.heads.size(); ++hi) {
      const int h = rows.heads[hi], hk = h / c.gqa();
      const long double sigma = in.sinks.empty() ? -INFINITY : in.sinks[size_t(h)];
      std::vector<long double> logit(size_t(sk), -INFINITY), shat(size_t(sk), 0);
      long double shat_max = 0;
      long double mx = sigma;
      for (int64_t j = 0; j < sk; ++j) {
        if (!is_visible(c.mask, j, p)) continue;
        long double dot = 0, qq = 0, kk = 0;
        for (int d = 0; d < D; ++d) {
          const long double qd = in.q.get(L.q_offset(s, i, h) + d);
          const long double kd = in.k.get(L.kv_offset(s, j, hk) + d);
          dot += qd * kd;
          qq += qd * qd;
          kk += kd * kd;
        }
        logit[size_t(j)] = (long double)in.scale * dot;
        shat[size_t(j)] = (long double)in.scale * std::sqrt(qq) * std::sqrt(kk);
        shat_max = std::max(shat_max, shat[size_t(j)]);
        mx = std::max(mx, logit[size_t(j)]);
      }
      const size_t out = r * rows.heads.size() + hi;
      if (std::isinf(mx) && mx < 0) continue;
      long double z = std::exp(sigma - mx);
      for (long double l : logit)
        z += std::exp(l - mx);
      const long double lse = mx + std::log(z);
      n.lse[out] = lse;
      // Logit-domain magnitudes: the logit and its distance to the row max (sink included).
      auto mag = [&](long double x) { return std::fabs(x) + std::fabs(x - mx); };
      long double sens = std::isinf(sigma) ? 0 : std::exp(sigma - lse) * mag(sigma);
      long double sens_acc = std::isinf(sigma) ? 0 : std::exp(sigma - lse) * std::fabs(sigma);
      std::vector<long double> al(size_t(D), 0);
      for (int64_t j = 0; j < sk; ++j) {
        const long double pj = std::exp(logit[size_t(j)] - lse);
        if (pj == 0) continue;
        sens += pj * mag(logit[size_t(j)]);
        sens_acc += pj * shat[size_t(j)];
        for (int d = 0; d < D; ++d) {
          const long double v = in.v.get(L.kv_offset(s, j, hk) + d);
          n.o[out * D + d] += pj * v;
          n.m[out * D + d] += pj * std::fabs(v);
          al[size_t(d)] += pj * mag(logit[size_t(j)]) * std::fabs(v);
        }
      }
      n.lse_sens[out] = sens;
      n.lse_sens_acc[out] = sens_acc;
      for (int d = 0; d < D; ++d) {
        n.l[out * D + d] = al[size_t(d)] + sens * std::fabs(n.o[out * D + d]);
        n.l_acc[out * D + d] = shat_max * n.m[out * D + d] + sens_acc * std::fabs(n.o[out * D + d]);
      }
    }
  }
  return n;
}

// |a - b| <= rel * scale, elementwise, with the worst element named on failure.
void expect_close(const std::vector<double>& a, const std::vector<double>& b,
                  const std::vector<double>& scale, double rel, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t t = 0; t < a.size(); ++t) {
    ASSERT_FALSE(std::isnan(a[t])) << what << "[" << t << "]";
    if (a[t] == b[t]) continue;
    ASSERT_LE(std::fabs(a[t] - b[t]), rel * scale[t] + 1e-300)
        << what << "[" << t << "]: " << a[t] << " vs " << b[t];
  }
}

std::vector<double> lse_scale(const std::vector<double>& lse) {
  std::vector<double> s(lse.size());
  for (size_t t = 0; t < lse.size(); ++t)
    s[t] = std::max(1.0, std::fabs(lse[t]));
  return s;
}

TEST(Oracle, ConstantValuesGiveOneMinusSinkMass) {
  CaseSpec c = make_case(37, 53, 4, 2, 32, {MaskKind::causal}, 1);
  Inputs in = generate(c);
  for (int64_t t = 0; t < in.v.numel(); ++t)
    in.v.set(t, float(1 + (t % 32)) / 8);  // v_jd = c_d
  const OracleResult r = oracle_forward(c, in);
  for (size_t row = 0; row < r.rows.size(); ++row) {
    for (size_t h = 0; h < r.rows.heads.size(); ++h) {
      const double keep = 1 - std::exp(double(in.sinks[h]) - r.lse[r.at(row, h)]);
      for (int d = 0; d < 32; ++d)
        ASSERT_NEAR(r.o[r.at(row, h, d)], keep * (1 + d) / 8.0, kRel * (1 + d)) << row << "," << h;
    }
  }
}

TEST(Oracle, ZeroQueriesGiveUniformWeights) {
  for (MaskRule m :
       {MaskRule{MaskKind::none}, MaskRule{MaskKind::causal}, MaskRule{MaskKind::sliding_window, 5},
        MaskRule{MaskKind::sink_tokens, 4, 3}}) {
    CaseSpec c = make_case(29, 41, 2, 1, 16, m, 2);
    Inputs in = generate(c);
    set_all(in.q, 0);
    const OracleResult r = oracle_forward(c, in);
    for (size_t row = 0; row < r.rows.size(); ++row) {
      const int64_t i = r.rows.row[row];
      const int64_t n = visible_count(m, i, 29, 41);
      for (size_t h = 0; h < 2; ++h) {
        const double es = std::exp(double(in.sinks[h]));
        ASSERT_NEAR(r.lse[r.at(row, h)], std::log(es + double(n)), kRel);
        for (int d = 0; d < 16; ++d) {
          long double sum = 0;
          for (int64_t j = 0; j < 41; ++j)
            if (is_visible(m, j, i + 12)) sum += in.v.get(in.layout.kv_offset(0, j, 0) + d);
          const double want = double(sum / ((long double)es + n));
          ASSERT_NEAR(r.o[r.at(row, h, d)], want, kRel * std::max(1e-3, std::fabs(want)));
        }
      }
    }
  }
}

TEST(Oracle, HugeSinkGivesTheExactTinyOutput) {
  CaseSpec c = make_case(8, 8, 1, 1, 8, {MaskKind::none}, 3);
  c.sink = {SinkKind::constant, 30, 0};
  Inputs in = generate(c);
  set_all(in.q, 0);
  const OracleResult r = oracle_forward(c, in);
  for (int d = 0; d < 8; ++d) {
    long double sum = 0;
    for (int j = 0; j < 8; ++j)
      sum += in.v.get(j * 8 + d);
    const double want = double(sum / (std::exp(30.0L) + 8));
    EXPECT_NEAR(r.o[r.at(0, 0, d)], want, kRel * std::fabs(want));
  }
  EXPECT_NEAR(r.lse[0], 30 + std::log1p(8 * std::exp(-30.0)), kRel * 30);
}

TEST(Oracle, NoSinkEqualsSinkAtMinusInfinityAndPlainSoftmax) {
  CaseSpec c = make_case(40, 40, 2, 2, 16, {MaskKind::causal}, 4);
  c.sink = {SinkKind::none, 0, 0};
  const Inputs none = generate(c);
  Inputs deep = none;
  deep.sinks.assign(2, -1e4f);  // exp(-1e4 - max) is exactly 0 in double
  const OracleResult a = oracle_forward(c, none), b = oracle_forward(c, deep);
  EXPECT_EQ(a.o, b.o);
  EXPECT_EQ(a.lse, b.lse);
  const Naive n = naive(c, none, a.rows);
  for (size_t t = 0; t < a.lse.size(); ++t)
    EXPECT_NEAR(a.lse[t], double(n.lse[t]), kRel * 10);
}

TEST(Oracle, AddingAConstantToEveryLogitAndTheSinkChangesNothing) {
  CaseSpec c = make_case(31, 45, 4, 4, 64, {MaskKind::sliding_window, 9}, 5);
  Inputs a = generate(c);  // fp32, scale 1/8
  for (int64_t t = 0; t < a.q.numel(); t += 64)
    a.q.set(t, 1.0f);  // channel 0 of q is 1
  for (int64_t t = 0; t < a.k.numel(); t += 64)
    a.k.set(t, 0.0f);
  for (float& s : a.sinks)
    s = std::round(s * 64) / 64;  // s + 2 stays exact
  Inputs b = a;
  for (int64_t t = 0; t < b.k.numel(); t += 64)
    b.k.set(t, 16.0f);  // adds 16 / 8 = 2 to logits
  for (float& s : b.sinks)
    s += 2;
  const OracleResult ra = oracle_forward(c, a), rb = oracle_forward(c, b);
  expect_close(ra.o, rb.o, ra.m, kRel, "o");
  std::vector<double> shifted = ra.lse;
  for (double& x : shifted)
    x += 2;
  expect_close(shifted, rb.lse, lse_scale(rb.lse), kRel, "lse");
}

TEST(Oracle, KeyPermutationChangesNothingWithoutAMask) {
  CaseSpec c = make_case(17, 61, 4, 2, 32, {MaskKind::none}, 6);
  const Inputs a = generate(c);
  Inputs b = a;
  std::vector<int64_t> perm(61);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937_64(c.seed));
  for (int64_t j = 0; j < 61; ++j)
    for (int64_t t = 0; t < 2 * 32; ++t) {
      b.k.set(j * 64 + t, a.k.get(perm[size_t(j)] * 64 + t));
      b.v.set(j * 64 + t, a.v.get(perm[size_t(j)] * 64 + t));
    }
  const OracleResult ra = oracle_forward(c, a), rb = oracle_forward(c, b);
  expect_close(ra.o, rb.o, ra.m, kRel, "o");
  expect_close(ra.lse, rb.lse, lse_scale(ra.lse), kRel, "lse");
}

TEST(Oracle, GqaEqualsExplicitlyRepeatedHeads) {
  CaseSpec g = make_case(23, 57, 8, 2, 32, {MaskKind::causal}, 7);
  const Inputs a = generate(g);
  CaseSpec full = g;
  full.heads_kv = 8;
  Inputs b = generate(full);
  b.q = a.q;
  b.sinks = a.sinks;
  for (int64_t j = 0; j < 57; ++j)
    for (int h = 0; h < 8; ++h)
      for (int d = 0; d < 32; ++d) {
        b.k.set((j * 8 + h) * 32 + d, a.k.get((j * 2 + h / 4) * 32 + d));
        b.v.set((j * 8 + h) * 32 + d, a.v.get((j * 2 + h / 4) * 32 + d));
      }
  const OracleResult ra = oracle_forward(g, a), rb = oracle_forward(full, b);
  expect_close(ra.o, rb.o, ra.m, 1e-15, "o");
  expect_close(ra.lse, rb.lse, lse_scale(ra.lse), 1e-15, "lse");
}

TEST(Oracle, WindowCoveringAllKeysEqualsCausal) {
  CaseSpec w = make_case(50, 70, 2, 1, 16, {MaskKind::sliding_window, 70}, 8);
  CaseSpec causal = w;
  causal.mask = {MaskKind::causal};
  const Inputs in = generate(w);
  const OracleResult a = oracle_forward(w, in), b = oracle_forward(causal, in);
  EXPECT_EQ(a.o, b.o);
  EXPECT_EQ(a.lse, b.lse);
}

TEST(Oracle, WindowOfOneSeesOnlyItself) {
  CaseSpec c = make_case(20, 20, 2, 2, 16, {MaskKind::sliding_window, 1}, 9);
  const Inputs in = generate(c);
  const OracleResult r = oracle_forward(c, in);
  for (int64_t i = 0; i < 20; ++i)
    for (int h = 0; h < 2; ++h) {
      long double dot = 0;
      for (int d = 0; d < 16; ++d)
        dot += (long double)in.q.get(in.layout.q_offset(0, i, h) + d) *
               in.k.get(in.layout.kv_offset(0, i, h) + d);
      const long double s = dot * in.scale, sigma = in.sinks[size_t(h)];
      const long double p = 1 / (1 + std::exp(sigma - s));
      EXPECT_NEAR(r.lse[r.at(size_t(i), size_t(h))],
                  double(std::log(std::exp(sigma) + std::exp(s))), kRel * 10);
      for (int d = 0; d < 16; ++d) {
        const double want = double(p * in.v.get(in.layout.kv_offset(0, i, h) + d));
        ASSERT_NEAR(r.o[r.at(size_t(i), size_t(h), d)], want, kRel * std::fabs(want) + 1e-300);
      }
    }
}

TEST(Oracle, SampledRowsEqualTheSameRowsOfTheFullComputation) {
  CaseSpec c = make_case(700, 900, 4, 1, 32, {MaskKind::causal}, 10);
  c.sample_rows = 40;
  c.sample_heads = 3;
  CaseSpec full = c;
  full.sample_rows = 0;
  full.sample_heads = 0;
  const Inputs in = generate(c);
  const OracleResult s = oracle_forward(c, in), f = oracle_forward(full, in);
  ASSERT_FALSE(s.rows.complete);
  for (size_t r = 0; r < s.rows.size(); ++r)
    for (size_t h = 0; h < s.rows.heads.size(); ++h) {
      const size_t fr = size_t(s.rows.row[r]), fh = size_t(s.rows.heads[h]);
      EXPECT_NEAR(s.lse[s.at(r, h)], f.lse[f.at(fr, fh)], 1e-14 * std::fabs(f.lse[f.at(fr, fh)]));
      for (int d = 0; d < 32; ++d)
        ASSERT_NEAR(s.o[s.at(r, h, d)], f.o[f.at(fr, fh, d)], 1e-14 * f.m[f.at(fr, fh, d)]);
    }
}

TEST(Oracle, FullyMaskedRowsFollowTheConvention) {
  CaseSpec c = make_case(5, 3, 2, 2, 8, {MaskKind::causal}, 11);  // rows 0, 1 see no key
  Inputs in = generate(c);
  OracleResult r = oracle_forward(c, in);
  for (size_t row = 0; row < 2; ++row)
    for (size_t h = 0; h < 2; ++h) {
      EXPECT_EQ(r.lse[r.at(row, h)], double(in.sinks[h]));
      for (int d = 0; d < 8; ++d)
        EXPECT_EQ(r.o[r.at(row, h, d)], 0.0);
    }
  c.sink = {SinkKind::none, 0, 0};
  in = generate(c);
  r = oracle_forward(c, in);
  EXPECT_TRUE(std::isinf(r.lse[0]) && r.lse[0] < 0);
  for (double x : r.o)
    EXPECT_FALSE(std::isnan(x));
  EXPECT_TRUE(std::isfinite(r.lse[r.at(4, 1)]));
}

// Random small cases of every mask, GQA, varlen and input distribution against long double.
struct CrossCase {
  const char* name;
  MaskRule mask;
  int hq, hkv, d;
  std::vector<int64_t> vq, vk;  // varlen when non-empty
  InputDist input;
  SinkDist sink;
};

void PrintTo(const CrossCase& x, std::ostream* os) {
  *os << x.name;
}

class OracleCrossCheck : public ::testing::TestWithParam<CrossCase> {};

TEST_P(OracleCrossCheck, AgreesWithLongDouble) {
  const CrossCase& x = GetParam();
  CaseSpec c = make_case(19, 67, x.hq, x.hkv, x.d, x.mask, 100);
  c.dtype = DType::bf16;
  c.varlen_q = x.vq;
  c.varlen_k = x.vk;
  c.input = x.input;
  c.sink = x.sink;
  const Inputs in = generate(c);
  const OracleResult r = oracle_forward(c, in);
  const Naive n = naive(c, in, r.rows);
  std::vector<double> no(n.o.begin(), n.o.end()), nl(n.lse.begin(), n.lse.end());
  expect_close(r.o, no, r.m, kRel, "o");
  expect_close(r.lse, nl, lse_scale(nl), kRel, "lse");
  std::vector<double> nlv(n.l.begin(), n.l.end()), ns(n.lse_sens.begin(), n.lse_sens.end());
  // The error scales (M, l, lse_sens) are computed in float: they need ~1e-4, not 1e-13.
  expect_close(r.l, nlv, nlv, 1e-5, "l");
  expect_close(r.lse_sens, ns, ns, 1e-5, "lse_sens");
  std::vector<double> nm(n.m.begin(), n.m.end());
  expect_close(r.m, nm, nm, 1e-5, "m");
  std::vector<double> nla(n.l_acc.begin(), n.l_acc.end());
  std::vector<double> nsa(n.lse_sens_acc.begin(), n.lse_sens_acc.end());
  expect_close(r.l_acc, nla, nla, 1e-5, "l_acc");
  expect_close(r.lse_sens_acc, nsa, nsa, 1e-5, "lse_sens_acc");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OracleCrossCheck,
    ::testing::Values(
        CrossCase{"none_mha", {MaskKind::none}, 4, 4, 32, {}, {}, InputDist::normal, {}},
        CrossCase{"causal_gqa4", {MaskKind::causal}, 8, 2, 64, {}, {}, InputDist::normal, {}},
        CrossCase{
            "window7", {MaskKind::sliding_window, 7}, 4, 1, 32, {}, {}, InputDist::uniform, {}},
        CrossCase{
            "sink_tokens", {MaskKind::sink_tokens, 8, 4}, 4, 2, 16, {}, {}, InputDist::normal, {}},
        CrossCase{"varlen_causal",
                  {MaskKind::causal},
                  4,
                  2,
                  32,
                  {1, 7, 33},
                  {9, 7, 80},
                  InputDist::normal,
                  {}},
        CrossCase{"varlen_window_sq_gt_sk",
                  {MaskKind::sliding_window, 3},
                  2,
                  1,
                  16,
                  {12, 5},
                  {4, 30},
                  InputDist::normal,
                  {}},
        CrossCase{"outliers", {MaskKind::causal}, 4, 4, 64, {}, {}, InputDist::outliers, {}},
        CrossCase{
            "large_logits", {MaskKind::causal}, 4, 4, 64, {}, {}, InputDist::large_logits, {}},
        CrossCase{"extreme_sink",
                  {MaskKind::none},
                  4,
                  2,
                  32,
                  {},
                  {},
                  InputDist::normal,
                  {SinkKind::extreme, 30, 0}},
        CrossCase{"no_sink",
                  {MaskKind::causal},
                  4,
                  1,
                  32,
                  {},
                  {},
                  InputDist::normal,
                  {SinkKind::none, 0, 0}}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sinkbench
