// tests/impls/eager_concat/eager_concat_test.cpp — eager_concat/cpu and
// eager_concat-softmax_fp32/cpu (test layer): the policy sweep, a long causal case, varlen, the
// honest fully-masked-row behaviour of real eager, bit identity of the two variants, and the
// fault switches the eager path honours.
#include <gtest/gtest.h>

#include <cmath>

#include "impls/eager_concat/eager_concat.h"
#include "impls/faults.h"
#include "tests/impls/eager_concat/sweep.h"
#include "tests/support/judge.h"

namespace sinkbench::testing {
namespace {

EagerOptions variant(bool softmax_fp32) {
  EagerOptions opt;
  opt.softmax_fp32 = softmax_fp32;
  return opt;
}

EagerOptions with_fault(bool Faults::*which) {
  EagerOptions opt;
  opt.faults.*which = true;
  return opt;
}

const EagerOptions kEager = variant(false);
const EagerOptions kSoftmaxFp32 = variant(true);

// Both variants on one case, judged against one oracle run: each must pass the policy.
void expect_both_pass(const CaseSpec& c) {
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  for (const EagerOptions& opt : {kEager, kSoftmaxFp32})
    expect_passes(*make_eager_concat_cpu(opt), c, in, ref);
}

class EagerSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(EagerSweep, BothVariantsPassPolicy) {
  expect_both_pass(sweep_case(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Policy, EagerSweep, sweep_values(),
                         [](const auto& info) { return sweep_name(info.param); });

TEST(EagerConcat, LongCausalBf16PassesPolicy) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.mask = {MaskKind::causal, 0, 0};
  c.seqlen_q = 1023;
  c.seqlen_k = 1024;
  c.heads_q = 2;
  c.heads_kv = 1;
  c.seed = case_seed(101);
  expect_both_pass(c);
}

class EagerVarlen : public ::testing::TestWithParam<DType> {};

TEST_P(EagerVarlen, BothVariantsPassPolicy) {
  CaseSpec c;
  c.dtype = GetParam();
  c.mask = {MaskKind::sliding_window, 7, 0};
  c.varlen_q = {1, 113, 17, 5};
  c.varlen_k = {203, 203, 17, 64};
  c.heads_q = 8;
  c.heads_kv = 2;
  c.seed = case_seed(200 + uint64_t(GetParam()));
  expect_both_pass(c);
}

INSTANTIATE_TEST_SUITE_P(Batches, EagerVarlen, ::testing::ValuesIn(kAllDTypes),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// The two variants differ only in which PyTorch softmax call they make; both compute in fp32 and
// round P to the dtype once, so with this reference's fixed summation order their bits agree.
TEST(EagerConcat, SoftmaxFp32VariantHasTheSameRoundingPoints) {
  for (DType dt : kAllDTypes) {
    CaseSpec c;
    c.dtype = dt;
    c.mask = {MaskKind::causal, 0, 0};
    c.seqlen_q = 37;
    c.seqlen_k = 90;
    c.heads_q = 4;
    c.heads_kv = 2;
    c.seed = case_seed(300 + uint64_t(dt));
    const Inputs in = generate(c);
    const ForwardResult a = eager_concat_forward(c, in, kEager);
    const ForwardResult b = eager_concat_forward(c, in, kSoftmaxFp32);
    for (int64_t e = 0; e < a.o.numel(); ++e)
      ASSERT_EQ(a.o.bits(e), b.o.bits(e)) << dtype_name(dt) << " element " << e;
    EXPECT_EQ(a.lse, b.lse);
  }
}

// Sq > Sk under causal leaves the first rows with no visible key. Without a sink, real eager adds
// finfo.min to every logit of such a row and spreads the weight over the masked keys; the
// contract says o = 0, so the verdict fails on o_bound. With a sink the row is right.
TEST(EagerConcat, FullyMaskedRowWithoutSinkIsWrongAsInRealEager) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.mask = {MaskKind::causal, 0, 0};
  c.seqlen_q = 6;
  c.seqlen_k = 4;
  c.heads_q = 2;
  c.heads_kv = 1;
  c.sink = {SinkKind::none, 0, 0};
  c.seed = case_seed(400);
  const Inputs in = generate(c);
  const ForwardResult r = eager_concat_forward(c, in, kEager);
  // Row 0 (position -2) sees nothing: uniform weights round(1/4) = 0.25 over all four keys.
  // The four keys fall in one k-step: summed exactly, rounded to fp32, then to bf16.
  for (int d = 0; d < c.head_dim; ++d) {
    double acc = 0;
    for (int64_t j = 0; j < c.seqlen_k; ++j)
      acc += 0.25 * in.v.get(in.layout.kv_offset(0, j, 0) + d);
    EXPECT_EQ(r.o.get(in.layout.q_offset(0, 0, 0) + d), round_to(DType::bf16, float(acc)));
  }
  const Judged without = run_and_judge(*make_eager_concat_cpu(kEager), c);
  EXPECT_EQ(without.verdict.status, Status::fail) << summary(without);
  EXPECT_EQ(without.verdict.bound, "o_bound") << summary(without);

  c.sink = SinkDist{};
  const Judged with = run_and_judge(*make_eager_concat_cpu(kEager), c);
  EXPECT_EQ(with.verdict.status, Status::pass) << summary(with);
}

struct FaultCase {
  const char* name;
  EagerOptions options;
  MaskRule mask;
  const char* bound;  // the bound the verdict must name
};

class EagerFault : public ::testing::TestWithParam<FaultCase> {};

// A strong positive sink and short rows make every defect visible well past the bound.
TEST_P(EagerFault, FailsTheVerdict) {
  const FaultCase& fc = GetParam();
  CaseSpec c;
  c.dtype = DType::bf16;
  c.mask = fc.mask;
  c.seqlen_q = 24;
  c.seqlen_k = 40;
  c.heads_q = 8;
  c.heads_kv = 2;
  c.sink = {SinkKind::constant, 3, 0};
  c.seed = case_seed(500);
  const Judged j = run_and_judge(*make_eager_concat_cpu(fc.options), c);
  EXPECT_EQ(j.verdict.status, Status::fail) << summary(j);
  EXPECT_EQ(j.verdict.bound, fc.bound) << summary(j);
}

INSTANTIATE_TEST_SUITE_P(Switches, EagerFault,
                         ::testing::Values(FaultCase{"ignore_sink",
                                                     with_fault(&Faults::ignore_sink),
                                                     {MaskKind::causal, 0, 0},
                                                     "o_bound"},
                                           FaultCase{"lse_without_sink",
                                                     with_fault(&Faults::lse_without_sink),
                                                     {MaskKind::causal, 0, 0},
                                                     "lse_bound"},
                                           FaultCase{"gqa_modulo",
                                                     with_fault(&Faults::gqa_modulo),
                                                     {MaskKind::causal, 0, 0},
                                                     "o_bound"},
                                           FaultCase{"window_off_by_one",
                                                     with_fault(&Faults::window_off_by_one),
                                                     {MaskKind::sliding_window, 7, 0},
                                                     "o_bound"},
                                           FaultCase{"causal_top_left",
                                                     with_fault(&Faults::causal_top_left),
                                                     {MaskKind::causal, 0, 0},
                                                     "o_bound"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sinkbench::testing
