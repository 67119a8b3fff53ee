// tests/impls/paged/paged_test.cpp — the paged CPU family (test layer): the page table (shuffled,
// exact gather, NaN padding), eager_paged and flash_paged over the policy sweep, page sizes,
// varlen batches, split-KV decode, the split heuristic, and the sink_per_split fault switch.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "impls/eager_concat/eager_concat.h"
#include "impls/paged/paged.h"
#include "impls/tiled/tiled.h"
#include "tests/impls/eager_concat/sweep.h"
#include "tests/support/judge.h"

namespace sinkbench::testing {
namespace {

inline constexpr int kPageSizes[] = {16, 64, 256};

FlashPagedOptions splits(int n) {
  FlashPagedOptions opt;
  opt.num_splits = n;
  return opt;
}

// eager_paged and flash_paged with the given split options on one case, judged against one
// oracle run: each must pass the policy.
void expect_pass(const CaseSpec& c, const std::vector<FlashPagedOptions>& flash_options,
                 bool with_eager) {
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  if (with_eager) expect_passes(*make_eager_paged_cpu(), c, in, ref, "");
  for (const FlashPagedOptions& opt : flash_options)
    expect_passes(*make_flash_paged_cpu(opt), c, in, ref,
                  " (num_splits " + std::to_string(opt.num_splits) + ")");
}

void expect_both_pass(const CaseSpec& c) {
  expect_pass(c, {splits(0)}, true);
}

// The sweep cycles page sizes over the GQA axis so every page size meets every dtype and mask.
CaseSpec paged_sweep_case(const SweepParam& p) {
  CaseSpec c = sweep_case(p);
  const int gqa_index = std::get<2>(p) == 1 ? 0 : std::get<2>(p) == 4 ? 1 : 2;
  c.page_size = kPageSizes[gqa_index];
  return c;
}

class PagedSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(PagedSweep, BothPassPolicy) {
  expect_both_pass(paged_sweep_case(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Policy, PagedSweep, sweep_values(), [](const auto& info) {
  return sweep_name(info.param) + "_page" + std::to_string(paged_sweep_case(info.param).page_size);
});

TEST(Paged, LongCausalBf16PassesPolicy) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.mask = {MaskKind::causal, 0, 0};
  c.seqlen_q = 1023;
  c.seqlen_k = 1024;
  c.heads_q = 2;
  c.heads_kv = 1;
  c.page_size = 16;
  c.seed = case_seed(1001);
  expect_both_pass(c);
}

// Sequences of different lengths share one shuffled pool; decode and prefill rows in one batch.
class PagedVarlen : public ::testing::TestWithParam<std::tuple<DType, int>> {};

TEST_P(PagedVarlen, BothPassPolicy) {
  const auto [dt, page] = GetParam();
  CaseSpec c;
  c.dtype = dt;
  c.mask = {MaskKind::causal, 0, 0};
  c.varlen_q = {1, 113, 17, 1, 40};
  c.varlen_k = {203, 203, 17, 1024, 300};
  c.heads_q = 8;
  c.heads_kv = 2;
  c.page_size = page;
  c.seed = case_seed(1100 + uint64_t(dt) * 1024 + uint64_t(page));
  expect_both_pass(c);
}

INSTANTIATE_TEST_SUITE_P(Batches, PagedVarlen,
                         ::testing::Combine(::testing::ValuesIn(kAllDTypes),
                                            ::testing::ValuesIn(kPageSizes)),
                         [](const auto& info) {
                           return std::string(dtype_name(std::get<0>(info.param))) + "_page" +
                                  std::to_string(std::get<1>(info.param));
                         });

CaseSpec small_case(DType dt, int64_t sq, int64_t sk, int page, uint64_t salt) {
  CaseSpec c;
  c.dtype = dt;
  c.mask = {MaskKind::causal, 0, 0};
  c.seqlen_q = sq;
  c.seqlen_k = sk;
  c.heads_q = 4;
  c.heads_kv = 2;
  c.page_size = page;
  c.seed = case_seed(salt);
  return c;
}

TEST(PageTable, PagesAreShuffledAndNotContiguous) {
  for (int page : kPageSizes) {
    const CaseSpec c = small_case(DType::bf16, 3, 1024, page, 1200 + uint64_t(page));
    const PagedKV kv = build_paged_kv(c, generate(c));
    const std::vector<int64_t>& table = kv.block_table[0];
    ASSERT_EQ(int64_t(table.size()), (1024 + page - 1) / page);
    // Every physical page used once, and at least one logical neighbour pair is not physically
    // adjacent (a cyclic shuffle never leaves one sequence's pages as a single ascending run).
    EXPECT_EQ(std::set<int64_t>(table.begin(), table.end()).size(), table.size());
    bool broken_run = false;
    for (size_t t = 0; t + 1 < table.size(); ++t)
      broken_run |= table[t + 1] != table[t] + 1;
    EXPECT_TRUE(broken_run) << "page " << page;
    for (size_t t = 0; t < table.size(); ++t)
      EXPECT_NE(table[t], int64_t(t)) << "page " << page << " logical " << t << " stayed in place";
  }
}

TEST(PageTable, GatherReproducesKeysAndValuesAndPadsWithNan) {
  CaseSpec c = small_case(DType::f16, 5, 1, 16, 1300);
  c.varlen_q = {5, 1, 30};
  c.varlen_k = {77, 1, 30};
  const Inputs in = generate(c);
  const PagedKV kv = build_paged_kv(c, in);
  const Tensor k = gather_pages(kv, kv.k_pages, in.layout);
  const Tensor v = gather_pages(kv, kv.v_pages, in.layout);
  for (int64_t e = 0; e < in.k.numel(); ++e) {
    ASSERT_EQ(k.bits(e), in.k.bits(e)) << "k element " << e;
    ASSERT_EQ(v.bits(e), in.v.bits(e)) << "v element " << e;
  }
  // 77 keys in pages of 16 leave 3 unused slots in the sequence's last page.
  const int64_t last = kv.block_table[0].back();
  EXPECT_TRUE(std::isnan(kv.k_pages.get((last * 16 + 15) * c.heads_kv * c.head_dim)));
}

TEST(Paged, PageSizeZeroUsesTheDefaultAndOddSizesAreDeclined) {
  CaseSpec c = small_case(DType::bf16, 4, 100, 0, 1400);
  EXPECT_EQ(effective_page_size(c), kDefaultPageSize);
  EXPECT_TRUE(make_flash_paged_cpu()->supports(c).ok);
  c.page_size = 8;
  const Support s = make_eager_paged_cpu()->supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("page_size 8"), std::string::npos) << s.reason;
}

// eager_paged is eager with the fp32 softmax on exactly gathered K/V: the same bits.
TEST(Paged, EagerPagedEqualsEagerConcatSoftmaxFp32) {
  for (DType dt : kAllDTypes) {
    const CaseSpec c = small_case(dt, 33, 150, 16, 1500 + uint64_t(dt));
    const Inputs in = generate(c);
    const ForwardResult a = make_eager_paged_cpu()->forward(c, in);
    EagerOptions softmax_fp32;
    softmax_fp32.softmax_fp32 = true;
    const ForwardResult b = eager_concat_forward(c, in, softmax_fp32);
    for (int64_t e = 0; e < a.o.numel(); ++e)
      ASSERT_EQ(a.o.bits(e), b.o.bits(e)) << dtype_name(dt) << " element " << e;
    EXPECT_EQ(a.lse, b.lse);
  }
}

// flash_paged is the tiled kernel reading K/V through the block table: with one split its bits
// equal tiled/cpu's on contiguous K/V, for every mask, page size and a varlen batch.
TEST(FlashPaged, OneSplitEqualsTiledBitwise) {
  for (DType dt : kAllDTypes)
    for (int mask = 0; mask < int(std::size(kSweepMasks)); ++mask) {
      CaseSpec c = small_case(dt, 1, 1, kPageSizes[mask % 3], 1550 + uint64_t(dt) * 8 + mask);
      c.mask = kSweepMasks[mask].rule;
      c.varlen_q = {1, 70, 129};
      c.varlen_k = {300, 200, 129};
      const Inputs in = generate(c);
      const ForwardResult a = flash_paged_forward(c, in, splits(1));
      const ForwardResult b = tiled_forward(c, in, TiledOptions{});
      for (int64_t e = 0; e < a.o.numel(); ++e)
        ASSERT_EQ(a.o.bits(e), b.o.bits(e)) << case_label(c) << " element " << e;
      for (size_t e = 0; e < a.lse.size(); ++e)
        ASSERT_EQ(a.lse[e], b.lse[e]) << case_label(c) << " lse " << e;
    }
}

TEST(FlashPaged, SplitHeuristic) {
  EXPECT_EQ(pick_num_splits(1, 1), 1);
  EXPECT_EQ(pick_num_splits(1, 256), 1);
  EXPECT_EQ(pick_num_splits(1, 257), 2);
  EXPECT_EQ(pick_num_splits(16, 1024), 4);
  EXPECT_EQ(pick_num_splits(1, 1 << 20), 16);
  EXPECT_EQ(pick_num_splits(17, 1 << 20), 1);
}

struct DecodeParam {
  DType dtype;
  int mask;  // index into kSweepMasks
  int64_t sk;
  int splits;  // forced num_splits
};

class FlashDecode : public ::testing::TestWithParam<DecodeParam> {};

// Forced splits pass the policy, and so does num_splits = 1 on the same inputs: both are within
// the policy bound of the oracle, hence within twice that bound of each other. The forced-split
// lse also stays within the policy's lse bound.
TEST_P(FlashDecode, ForcedSplitsPassPolicyLikeOneSplit) {
  const DecodeParam p = GetParam();
  CaseSpec c;
  c.dtype = p.dtype;
  c.mask = kSweepMasks[p.mask].rule;
  c.seqlen_q = 1;
  c.seqlen_k = p.sk;
  c.heads_q = 8;
  c.heads_kv = 1;
  c.page_size = 16;
  c.seed = case_seed(1600 + uint64_t(p.dtype) * 64 + uint64_t(p.mask) * 8 + uint64_t(p.splits));
  expect_pass(c, {splits(p.splits), splits(1)}, false);
}

std::vector<DecodeParam> decode_params() {
  std::vector<DecodeParam> v;
  for (DType dt : kAllDTypes)
    for (int mask : {0, 1, 4, 5})
      for (int64_t sk : {int64_t(203), int64_t(1024)})
        for (int splits : {1, 3, 7, 8})  // 3 and 7 divide neither key count
          v.push_back({dt, mask, sk, splits});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Splits, FlashDecode, ::testing::ValuesIn(decode_params()),
                         [](const auto& info) {
                           const DecodeParam& p = info.param;
                           return std::string(dtype_name(p.dtype)) + "_" +
                                  kSweepMasks[p.mask].name + "_1x" + std::to_string(p.sk) +
                                  "_splits" + std::to_string(p.splits);
                         });

// A split-KV decoder that lets every partial add the sink, and the combine add it again, counts
// exp(sigma) num_splits + 1 times: the verdict must catch it.
TEST(FlashPaged, SinkPerSplitFaultFailsTheVerdict) {
  for (DType dt : kAllDTypes) {
    CaseSpec c = small_case(dt, 1, 1024, 64, 1700 + uint64_t(dt));
    c.sink = {SinkKind::constant, 6, 0};
    const Judged good = run_and_judge(*make_flash_paged_cpu(splits(4)), c);
    EXPECT_EQ(good.verdict.status, Status::pass) << summary(good);
    FlashPagedOptions faulty = splits(4);
    faulty.faults.sink_per_split = true;
    const Judged bad = run_and_judge(*make_flash_paged_cpu(faulty), c);
    EXPECT_EQ(bad.verdict.status, Status::fail) << summary(bad);
    EXPECT_TRUE(bad.verdict.bound == "o_bound" || bad.verdict.bound == "lse_bound") << summary(bad);
    // One split has no partial to double-count: the fault is a no-op there.
    FlashPagedOptions faulty_single = faulty;
    faulty_single.num_splits = 1;
    const Judged single = run_and_judge(*make_flash_paged_cpu(faulty_single), c);
    EXPECT_EQ(single.verdict.status, Status::pass) << summary(single);
  }
}

struct FlashFaultCase {
  const char* name;
  bool Faults::*fault;
  MaskRule mask;
  const char* bound;  // the bound the verdict must name
};

class FlashFault : public ::testing::TestWithParam<std::tuple<FlashFaultCase, int>> {};

// The other switches flash_paged honours, through the direct path and the split combine.
TEST_P(FlashFault, FailsTheVerdict) {
  const auto [fc, num_splits] = GetParam();
  CaseSpec c = small_case(DType::bf16, 3, 40, 16, 1800);
  c.heads_q = 8;
  c.mask = fc.mask;
  c.sink = {SinkKind::constant, 3, 0};
  FlashPagedOptions opt = splits(num_splits);
  opt.faults.*fc.fault = true;
  const Judged j = run_and_judge(*make_flash_paged_cpu(opt), c);
  EXPECT_EQ(j.verdict.status, Status::fail) << summary(j);
  EXPECT_EQ(j.verdict.bound, fc.bound) << summary(j);
}

INSTANTIATE_TEST_SUITE_P(
    Switches, FlashFault,
    ::testing::Combine(
        ::testing::Values(
            FlashFaultCase{
                "ignore_sink", &Faults::ignore_sink, {MaskKind::causal, 0, 0}, "o_bound"},
            FlashFaultCase{"lse_without_sink",
                           &Faults::lse_without_sink,
                           {MaskKind::causal, 0, 0},
                           "lse_bound"},
            FlashFaultCase{"gqa_modulo", &Faults::gqa_modulo, {MaskKind::causal, 0, 0}, "o_bound"},
            FlashFaultCase{"window_off_by_one",
                           &Faults::window_off_by_one,
                           {MaskKind::sliding_window, 7, 0},
                           "o_bound"},
            FlashFaultCase{
                "causal_top_left", &Faults::causal_top_left, {MaskKind::causal, 0, 0}, "o_bound"}),
        ::testing::Values(1, 3)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) + "_splits" +
             std::to_string(std::get<1>(info.param));
    });

}  // namespace
}  // namespace sinkbench::testing
