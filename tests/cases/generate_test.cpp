// tests/cases/generate_test.cpp — inputs are a pure function of the spec, rounded to the dtype,
// with the promised distributions; row sampling covers first, last and seam rows.
#include "cases/generate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "cases/rng.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

CaseSpec small_case(uint64_t seed) {
  CaseSpec c;
  c.seed = seed;
  c.batch = 2;
  c.seqlen_q = 33;
  c.seqlen_k = 47;
  c.heads_q = 4;
  c.heads_kv = 2;
  c.head_dim = 32;
  return c;
}

TEST(Generate, SameSpecSameBitsAndDtypeExact) {
  const CaseSpec c = small_case(testing::test_seed());
  const Inputs a = generate(c), b = generate(c);
  ASSERT_EQ(a.q.nbytes(), b.q.nbytes());
  EXPECT_EQ(0, std::memcmp(a.q.data(), b.q.data(), size_t(a.q.nbytes())));
  EXPECT_EQ(0, std::memcmp(a.v.data(), b.v.data(), size_t(a.v.nbytes())));
  EXPECT_EQ(a.sinks, b.sinks);
  EXPECT_EQ(a.q.describe(), "bf16[66, 4, 32]");
  EXPECT_EQ(a.k.describe(), "bf16[94, 2, 32]");
  for (int64_t i = 0; i < a.k.numel(); ++i)
    ASSERT_EQ(a.k.get(i), round_to(DType::bf16, input_value(c, rng::kK, i)));
  EXPECT_FLOAT_EQ(a.scale, 1.0f / std::sqrt(32.0f));
}

// dO is the `normal` draw of tag kDo rounded to the dtype (what the GPU generator makes with input
// 0), the same whatever the case's input distribution; dlse is fp32 from tag kDlse; forward-only
// cases draw nothing.
TEST(Generate, GradientsComeFromTheirOwnTags) {
  CaseSpec c = small_case(testing::test_seed());
  EXPECT_TRUE(generate_grads(c, make_layout(c)).d_o.empty());
  c.grad = GradKind::d_o;
  c.dlse = DlseKind::normal;
  c.input = InputDist::large_logits;
  const GradInputs g = generate_grads(c, make_layout(c));
  ASSERT_EQ(g.d_o.numel(), make_layout(c).total_q() * c.heads_q * c.head_dim);
  ASSERT_EQ(int64_t(g.dlse.size()), make_layout(c).lse_size());
  for (int64_t i = 0; i < g.d_o.numel(); i += 7)
    ASSERT_EQ(g.d_o.get(i), round_to(c.dtype, float(rng::normal(c.seed, rng::kDo, uint64_t(i)))));
  for (size_t i = 0; i < g.dlse.size(); i += 5)
    ASSERT_EQ(g.dlse[i], float(rng::normal(c.seed, rng::kDlse, i)));
  CaseSpec n = c;
  n.input = InputDist::normal;
  EXPECT_EQ(generate_grads(n, make_layout(n)).d_o.get(3), g.d_o.get(3));
}

// Sampled keys: first and last keys, seams, within range, ascending per sequence.
TEST(Generate, SampledKeysCoverEnds) {
  CaseSpec c = small_case(testing::test_seed());
  c.seqlen_k = 1000;
  c.sample_rows = 40;
  const RowSet k = evaluated_keys(c);
  EXPECT_FALSE(k.complete);
  std::set<int64_t> keys(k.row.begin(), k.row.end());
  for (int64_t j : {int64_t(0), int64_t(999), int64_t(127), int64_t(128)})
    EXPECT_TRUE(keys.count(j)) << j;
  for (int64_t j : k.row)
    EXPECT_TRUE(j >= 0 && j < 1000);
  c.sample_rows = 0;
  EXPECT_TRUE(evaluated_keys(c).complete);
  EXPECT_EQ(evaluated_keys(c).size(), size_t(2 * 1000));
}

TEST(Generate, SinkDistributions) {
  CaseSpec c = small_case(testing::test_seed());
  c.heads_q = c.heads_kv = 64;
  for (int h = 0; h < 64; ++h) {
    const float s = sink_value(c, h);  // band 4..8 by default
    EXPECT_GE(std::fabs(s), 4.0f - 0.02f);
    EXPECT_LE(std::fabs(s), 8.0f + 0.04f);
    EXPECT_EQ(s, round_to(DType::bf16, s));
  }
  c.sink = {SinkKind::extreme, 30, 0};
  EXPECT_EQ(sink_value(c, 0), 30.0f);
  EXPECT_EQ(sink_value(c, 1), -30.0f);
  c.sink = {SinkKind::none, 0, 0};
  EXPECT_TRUE(std::isinf(sink_value(c, 3)));
  EXPECT_TRUE(generate(c).sinks.empty());
}

TEST(Generate, OutlierChannelsAreScaled) {
  CaseSpec c = small_case(testing::test_seed());
  c.input = InputDist::outliers;
  c.head_dim = 64;
  // Mean |x| per channel: outlier channels (every 16th) stand ~20x above the rest.
  std::vector<double> mag(64, 0);
  for (int64_t i = 0; i < 64 * 2000; ++i)
    mag[size_t(i % 64)] += std::fabs(input_value(c, rng::kK, i));
  int big = 0;
  for (double m : mag)
    big += m / 2000 > 5;
  EXPECT_EQ(big, 4);
}

TEST(Generate, SampledRowsCoverEndsAndSeams) {
  CaseSpec c;
  c.seqlen_q = c.seqlen_k = 70000;
  c.heads_q = 8;
  c.heads_kv = 1;
  c.sample_rows = 64;
  c.sample_heads = 3;
  c.seed = testing::test_seed();
  const RowSet r = evaluated_rows(c);
  EXPECT_FALSE(r.complete);
  const std::set<int64_t> rows(r.row.begin(), r.row.end());
  EXPECT_EQ(rows.size(), r.size());  // distinct
  EXPECT_GE(rows.size(), 64u);
  EXPECT_TRUE(rows.count(0) && rows.count(69999) && rows.count(65535) && rows.count(65536));
  EXPECT_TRUE(rows.count(127) && rows.count(128));
  EXPECT_EQ(r.heads.size(), 3u);
  EXPECT_EQ(r.heads.front(), 0);
  EXPECT_EQ(r.heads.back(), 7);
  c.sample_rows = 0;
  c.sample_heads = 0;
  c.seqlen_q = 10;
  EXPECT_TRUE(evaluated_rows(c).complete);
}

}  // namespace
}  // namespace sinkbench
