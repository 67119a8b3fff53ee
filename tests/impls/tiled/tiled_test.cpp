// tests/impls/tiled/tiled_test.cpp — tiled/cpu against the FP64 oracle and policy v1 over the
// dtype x mask x GQA x length sweep, varlen batches, fully masked rows, head dims with other
// tile shapes, the sink-less mode, the floor-ratio prediction and bit reproducibility.
#include <gtest/gtest.h>
#include <omp.h>

#include <stdexcept>

#include "impls/tiled/tiled.h"
#include "tests/impls/tiled/sweep.h"

namespace sinkbench::testing {
namespace {

const Impl& tiled() {
  const Impl* impl = find_impl("tiled/cpu");
  if (!impl) throw std::runtime_error("tiled/cpu is not registered");
  return *impl;
}

using Cases = std::vector<CaseSpec>;

class TiledSweep : public ::testing::TestWithParam<SweepCase> {};

TEST_P(TiledSweep, PassesPolicy) {
  SINKBENCH_EXPECT_ALL_PASS({&tiled()}, Cases{to_case(GetParam())});
}

INSTANTIATE_TEST_SUITE_P(Cpu, TiledSweep, ::testing::ValuesIn(sweep_cases()), sweep_name);

TEST(Tiled, IsRegisteredAsCpuTiled) {
  EXPECT_EQ(tiled().family(), "tiled");
  EXPECT_EQ(tiled().device(), Device::cpu);
}

TEST(Tiled, LongCausalBf16PassesPolicy) {
  SweepCase p{DType::bf16, {MaskKind::causal}, 8, 1, 1023, 1024, 1000};
  SINKBENCH_EXPECT_ALL_PASS({&tiled()}, Cases{to_case(p)});
}

TEST(Tiled, VarlenBatchesPassPolicy) {
  SINKBENCH_EXPECT_ALL_PASS({&tiled()}, varlen_cases(2000));
}

// Sq > Sk: the first Sq - Sk rows see no key (o = 0, lse = sigma or -inf).
TEST(Tiled, FullyMaskedRowsPassPolicy) {
  SINKBENCH_EXPECT_ALL_PASS({&tiled()}, fully_masked_cases(3000));
}

TEST(Tiled, WithoutSinkPassesPolicy) {
  SINKBENCH_EXPECT_ALL_PASS({&tiled()}, sinkless_cases(4000));
}

TEST(Tiled, ExtremeSinksPassPolicy) {
  SINKBENCH_EXPECT_ALL_PASS({&tiled()}, extreme_sink_cases(5000));
}

// Head dims other than 64 (all walk keys in BLOCK_N = 64 steps, tile_shape).
TEST(Tiled, OtherHeadDimsPassPolicy) {
  Cases cases;
  for (int d : {32, 128, 256}) {
    CaseSpec c =
        to_case(SweepCase{DType::bf16, {MaskKind::causal}, 4, 2, 255, 256, 6000 + uint64_t(d)});
    c.head_dim = d;
    cases.push_back(c);
  }
  SINKBENCH_EXPECT_ALL_PASS({&tiled()}, cases);
}

// The sink-less mode (lse_renorm's first pass) is ordinary softmax attention: it passes the
// oracle of the same case without a sink, on the same q, k, v.
TEST(Tiled, SinklessModeIsPlainSoftmaxAttention) {
  CaseSpec with_sink = to_case(SweepCase{DType::bf16, {MaskKind::causal}, 8, 2, 113, 203, 7000});
  CaseSpec no_sink = with_sink;
  no_sink.sink = SinkDist{SinkKind::none};
  const Inputs in = generate(with_sink);
  TiledOptions opt;
  opt.use_sink = false;
  const ForwardResult got = tiled_forward(with_sink, in, opt);
  const Inputs in_ns = generate(no_sink);
  const Judged j = judge_outputs(no_sink, in_ns, oracle_forward(no_sink, in_ns), got, std::nullopt);
  EXPECT_EQ(j.verdict.status, Status::pass) << summary(j);
}

TEST(Tiled, TwoRunsGiveIdenticalBits) {
  for (DType t : kAllDTypes) {
    const CaseSpec c = to_case(SweepCase{t, {MaskKind::sink_tokens, 16, 4}, 8, 2, 113, 203, 8000});
    const Inputs in = generate(c);
    expect_bit_identical(tiled().forward(c, in), tiled().forward(c, in));
  }
}

TEST(Tiled, ThreadCountDoesNotChangeBits) {
  const CaseSpec c = to_case(SweepCase{DType::bf16, {MaskKind::causal}, 8, 2, 255, 256, 8100});
  const Inputs in = generate(c);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const ForwardResult one = tiled().forward(c, in);
  omp_set_num_threads(3);
  const ForwardResult three = tiled().forward(c, in);
  omp_set_num_threads(threads);
  expect_bit_identical(one, three);
}

TEST(Tiled, FloorRatioPredictedOnlyWhereRowsSeeManyKeys) {
  auto predicted = [](DType t, MaskRule m, int64_t sq, int64_t sk) {
    return tiled().min_floor_ratio(to_case(SweepCase{t, m, 8, 2, sq, sk, 0})).has_value();
  };
  EXPECT_TRUE(predicted(DType::bf16, {MaskKind::causal}, 255, 256));
  EXPECT_TRUE(predicted(DType::bf16, {MaskKind::sliding_window, 128}, 113, 203));
  EXPECT_FALSE(predicted(DType::f32, {MaskKind::causal}, 255, 256));  // P~ in fp32: no rounding
  EXPECT_FALSE(predicted(DType::bf16, {MaskKind::sliding_window, 7}, 255, 256));  // few keys
  EXPECT_FALSE(predicted(DType::bf16, {MaskKind::none}, 1, 1));  // one key, P~ = 1 exactly
}

}  // namespace
}  // namespace sinkbench::testing
