// tests/cases/resources_test.cpp — the memory estimate against what generate() and the oracle's
// results actually hold, the expansion gate (a huge case is refused naming its field, before any
// allocation), the run gate's skip reason, and the row counts a skipped case records.
#include "cases/resources.h"

#include <gtest/gtest.h>

#include <random>

#include "cases/generate.h"
#include "cases/suite.h"
#include "core/error.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

CaseSpec random_case(std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> len(1, 300);
  std::uniform_int_distribution<int> pick(0, 3);
  CaseSpec c;
  c.dtype = std::array{DType::f32, DType::f16, DType::bf16, DType::bf16}[size_t(pick(rng))];
  c.batch = 1 + pick(rng);
  c.seqlen_q = len(rng);
  c.seqlen_k = len(rng);
  c.heads_kv = 1 + pick(rng);
  c.heads_q = c.heads_kv * (1 + pick(rng));
  c.head_dim = 8 * (1 + pick(rng));
  c.sample_rows = pick(rng) == 0 ? 0 : len(rng) / 4;
  c.sample_heads = pick(rng) == 0 ? 0 : std::min(c.heads_q, 1 + pick(rng));
  c.seed = rng();
  return c;
}

TEST(Resources, InputEstimateIsWhatGenerateAllocates) {
  std::mt19937_64 rng(testing::test_seed());
  for (int trial = 0; trial < 20; ++trial) {
    const CaseSpec c = random_case(rng);
    const Inputs in = generate(c);
    const double held = double(in.q.nbytes() + in.k.nbytes() + in.v.nbytes());
    const MemoryEstimate m = estimate_memory(c);
    EXPECT_GE(m.inputs, held) << canonical(c);
    EXPECT_LE(m.inputs, held + 1024) << canonical(c);
    EXPECT_GE(m.outputs, double(in.q.nbytes())) << canonical(c);
  }
}

TEST(Resources, RowCountsOfASkippedCaseAreTheOraclesRows) {
  std::mt19937_64 rng(testing::test_seed());
  for (int trial = 0; trial < 50; ++trial) {
    const CaseSpec c = random_case(rng);
    const RowSet rows = evaluated_rows(c);
    EXPECT_EQ(evaluated_row_count(c), int64_t(rows.size())) << canonical(c);
    EXPECT_EQ(evaluated_head_count(c), int(rows.heads.size())) << canonical(c);
  }
}

TEST(Resources, HugeCaseIsRefusedAtExpansionNamingItsField) {
  const auto error = [](const std::string& yaml) {
    try {
      parse_suite(yaml, "t.yaml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string sq = error("base: {sq: 4000000000000000, sk: 16}\n");
  EXPECT_NE(sq.find("t.yaml:1:"), std::string::npos) << sq;
  EXPECT_NE(sq.find("field 'sq' (4000000000000000) makes it that large"), std::string::npos) << sq;
  const std::string sk = error("base: {sq: 1, sk: 4000000000000000000}\n");
  EXPECT_NE(sk.find("field 'sk'"), std::string::npos) << sk;
  EXPECT_NE(sk.find("more than 2^63 bytes"), std::string::npos) << sk;
  const std::string heads =
      error("base: {heads_q: 1000000000, heads_kv: 1000000000, sq: 100000000, sk: 8}\n");
  EXPECT_NE(heads.find("field 'heads_q'"), std::string::npos) << heads;
}

TEST(Resources, CaseBeyondAvailableMemoryGetsAReasonNamingTheField) {
  CaseSpec c;
  c.seqlen_q = 1000000000;
  const std::string why = host_memory_shortfall(c, false, 4, 64.0 * (1 << 30));
  EXPECT_NE(why.find(" of host memory (inputs "), std::string::npos) << why;
  EXPECT_NE(why.find(") but 64.0 GiB are available"), std::string::npos) << why;
  EXPECT_NE(why.find("inputs "), std::string::npos) << why;
  EXPECT_NE(why.find("field 'sq' (1000000000)"), std::string::npos) << why;
  EXPECT_EQ(host_memory_shortfall(CaseSpec{}, false, 4, 64.0 * (1 << 30)), "");
  EXPECT_EQ(host_memory_shortfall(c, false, 4, std::nullopt), "");  // no limit known
}

TEST(Resources, KeptArraysAndDeviceLogitsCount) {
  CaseSpec c;
  c.seqlen_q = c.seqlen_k = 4096;
  EXPECT_GT(estimate_memory(c, true, 3).total(), estimate_memory(c, false, 3).total());
  const double logits = 4096.0 * 4096 * c.heads_q * 2;
  EXPECT_GE(estimate_device_memory(c, "eager_concat") - estimate_device_memory(c, "tiled"), logits);
  EXPECT_NE(device_memory_shortfall(c, "eager_concat", 1 << 20).find("device memory"),
            std::string::npos);
  EXPECT_EQ(device_memory_shortfall(c, "tiled", 0), "");  // unknown device size
}

TEST(Resources, FormatsBytes) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1.5 * 1024 * 1024), "1.5 MiB");
  EXPECT_EQ(format_bytes(2.0 * 1024 * 1024 * 1024 * 1024), "2.0 TiB");
}

}  // namespace
}  // namespace sinkbench
