// tests/oracle/verdict_test.cpp — the metrics and the policy on outputs built from the oracle:
// the exactly rounded output passes at the floor; each kind of defect fails its named bound.
#include "oracle/verdict.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

struct Fixture {
  CaseSpec c;
  Inputs in;
  OracleResult ref;
  Tensor o;
  std::vector<float> lse;
};

// Outputs equal to the oracle's, rounded once to the dtype (lse to fp32).
Fixture rounded_oracle(DType dtype, MaskRule mask, int64_t sq, int64_t sk) {
  Fixture f;
  f.c.dtype = dtype;
  f.c.seqlen_q = sq;
  f.c.seqlen_k = sk;
  f.c.heads_q = 4;
  f.c.heads_kv = 2;
  f.c.head_dim = 32;
  f.c.mask = mask;
  f.c.seed = testing::test_seed();
  f.in = generate(f.c);
  f.ref = oracle_forward(f.c, f.in);
  const Layout& L = f.in.layout;
  f.o = Tensor(dtype, {L.total_q(), f.c.heads_q, f.c.head_dim});
  f.lse.assign(size_t(L.lse_size()), 0);
  for (size_t r = 0; r < f.ref.rows.size(); ++r)
    for (size_t h = 0; h < f.ref.rows.heads.size(); ++h) {
      const int s = f.ref.rows.seq[r];
      const int64_t i = f.ref.rows.row[r];
      f.lse[size_t(L.lse_offset(s, int(h), i))] = float(f.ref.lse[f.ref.at(r, h)]);
      for (int d = 0; d < f.c.head_dim; ++d)
        f.o.set(L.q_offset(s, i, int(h)) + d, round_to(dtype, f.ref.o[f.ref.at(r, h, d)]));
    }
  return f;
}

Verdict verdict_of(const Fixture& f, std::optional<double> min_ratio = std::nullopt) {
  return judge(f.c, measure(f.c, f.in.layout, f.ref, f.o, f.lse), min_ratio);
}

TEST(Verdict, ExactlyRoundedOutputSitsOnTheFloor) {
  for (DType t : kAllDTypes) {
    const Fixture f = rounded_oracle(t, {MaskKind::causal}, 40, 60);
    const Metrics m = measure(f.c, f.in.layout, f.ref, f.o, f.lse);
    EXPECT_EQ(m.cw, m.floor_cw) << dtype_name(t);
    EXPECT_DOUBLE_EQ(m.floor_ratio, 1.0);
    EXPECT_LE(m.cw, 1.0);  // |round(o) - o| <= u |o| <= u M
    EXPECT_GT(m.floor_cw, 0.0);
    EXPECT_EQ(m.elements, 40 * 4 * 32);
    EXPECT_EQ(verdict_of(f).status, Status::pass) << dtype_name(t);
  }
}

// Policy v2: an lse rounded to bf16 fails the lse bound of an implementation with fp32 logits;
// one that declares it rounds its logits to the dtype (eager) gets the dtype's, 2^16 times wider
// in its logit term.
TEST(Verdict, LseRoundedToTheDtypeFailsUnlessLogitsAreDeclaredInTheDtype) {
  Fixture f = rounded_oracle(DType::bf16, {MaskKind::causal}, 40, 60);
  for (float& x : f.lse)
    x = round_to(DType::bf16, x);
  const Metrics fp32_logits = measure(f.c, f.in.layout, f.ref, f.o, f.lse);
  const Verdict v = judge(f.c, fp32_logits, std::nullopt);
  EXPECT_EQ(v.status, Status::fail);
  EXPECT_EQ(v.bound, "lse_bound");
  Policy eager;
  eager.logits_in_dtype = true;
  const Metrics dtype_logits = measure(f.c, f.in.layout, f.ref, f.o, f.lse, eager);
  EXPECT_LT(100 * dtype_logits.lse_budget, fp32_logits.lse_budget);
}

TEST(Verdict, NanFailsByName) {
  Fixture f = rounded_oracle(DType::bf16, {MaskKind::none}, 8, 8);
  f.o.set(5, NAN);
  const Verdict v = verdict_of(f);
  EXPECT_EQ(v.status, Status::fail);
  EXPECT_EQ(v.bound, "nan");
}

TEST(Verdict, LargeElementErrorFailsTheOutputBoundAndNamesTheElement) {
  Fixture f = rounded_oracle(DType::f16, {MaskKind::none}, 8, 8);
  const size_t k = f.ref.at(3, 1, 7);
  const double u = unit_roundoff(DType::f16);
  // Push one element by 40 u (M + L): far past the k_round M + k_logit L budget.
  f.o.set(f.in.layout.q_offset(0, 3, 1) + 7,
          float(f.ref.o[k] + 40 * u * (f.ref.m[k] + f.ref.l[k])));
  const Verdict v = verdict_of(f);
  EXPECT_EQ(v.bound, "o_bound");
  EXPECT_NE(v.detail.find("row 3 head 1 dim 7"), std::string::npos) << v.detail;
}

TEST(Verdict, LseErrorFailsTheLseBound) {
  Fixture f = rounded_oracle(DType::bf16, {MaskKind::causal}, 16, 16);
  f.lse[3] += 0.25f;
  EXPECT_EQ(verdict_of(f).bound, "lse_bound");
  f.lse[3] = NAN;
  EXPECT_EQ(verdict_of(f).bound, "lse_nan");
}

TEST(Verdict, MissingRoundingStepFailsTheFloorRatio) {
  const Fixture f = rounded_oracle(DType::bf16, {MaskKind::none}, 16, 64);
  const Verdict v = verdict_of(f, 1.1);
  EXPECT_EQ(v.bound, "floor_ratio_min");
  EXPECT_EQ(verdict_of(f, 0.9).status, Status::pass);
}

TEST(Verdict, FullyMaskedRowsMustBeExactlyZero) {
  Fixture f = rounded_oracle(DType::bf16, {MaskKind::causal}, 6, 3);  // rows 0..2 see nothing
  EXPECT_EQ(verdict_of(f).status, Status::pass);
  f.o.set(f.in.layout.q_offset(0, 1, 0) + 4, 1e-6f);
  EXPECT_EQ(verdict_of(f).bound, "o_bound");
}

}  // namespace
}  // namespace sinkbench
