// tests/cases/flop_model_test.cpp — the FLOP/byte model (cases/flop_model.h) against brute force:
// every (i, j) pair tested with the mask rule is_visible on small random shapes of every mask
// kind (causal with Sq != Sk both ways, windows, sink tokens, varlen), and bytes against the
// sizes of the generated tensors; visible keys (the window-decode byte count) against the same
// brute force, on freshly seeded shapes.
#include <gtest/gtest.h>

#include <random>

#include "cases/flop_model.h"
#include "cases/generate.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

// Visible pairs by testing every (i, j) of every sequence with the rule, times Hq.
double brute_pairs(const CaseSpec& c) {
  double n = 0;
  for (int s = 0; s < c.num_seqs(); ++s) {
    const int64_t sq = c.sq(s), sk = c.sk(s);
    for (int64_t i = 0; i < sq; ++i)
      for (int64_t j = 0; j < sk; ++j)
        n += is_visible(c.mask, j, query_position(i, sq, sk)) ? 1 : 0;
  }
  return n * c.heads_q;
}

// Small random cases of one mask kind: fixed and varlen, Sq below, equal to and above Sk.
std::vector<CaseSpec> random_cases(MaskKind kind, std::mt19937& rng) {
  auto len = [&](int lo, int hi) {
    return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng));
  };
  std::vector<CaseSpec> out;
  for (int t = 0; t < 12; ++t) {
    CaseSpec c;
    c.heads_kv = int(len(1, 2));
    c.heads_q = c.heads_kv * int(len(1, 4));
    c.head_dim = 8 * int(len(1, 4));
    c.mask.kind = kind;
    if (kind == MaskKind::sliding_window || kind == MaskKind::sink_tokens)
      c.mask.window = len(1, 40);
    if (kind == MaskKind::sink_tokens) c.mask.sink_tokens = len(1, 8);
    if (t % 3 == 2) {
      for (int s = 0, n = int(len(1, 4)); s < n; ++s) {
        c.varlen_q.push_back(len(1, 50));
        c.varlen_k.push_back(len(1, 50));
      }
    } else {
      c.batch = int(len(1, 3));
      c.seqlen_k = len(1, 60);
      c.seqlen_q = t % 3 == 0 ? len(1, c.seqlen_k) : c.seqlen_k + len(0, 20);  // Sq <= Sk, Sq >= Sk
    }
    c.sink.kind = t % 2 ? SinkKind::none : SinkKind::band;
    c.dtype = t % 4 == 0 ? DType::f32 : t % 4 == 1 ? DType::f16 : DType::bf16;
    out.push_back(c);
  }
  return out;
}

class FlopModel : public ::testing::TestWithParam<MaskKind> {};

TEST_P(FlopModel, PairsAndFlopsMatchBruteForce) {
  std::mt19937 rng(1234 + int(GetParam()));
  for (const CaseSpec& c : random_cases(GetParam(), rng)) {
    SCOPED_TRACE(canonical(c));
    const double pairs = brute_pairs(c);
    EXPECT_EQ(pair_count(c), pairs);
    EXPECT_EQ(forward_flops(c), 4.0 * c.head_dim * pairs);
    EXPECT_EQ(backward_flops(c), 2.5 * 4.0 * c.head_dim * pairs);
  }
}

TEST_P(FlopModel, BytesAreEachInputReadAndEachOutputWrittenOnce) {
  std::mt19937 rng(99 + int(GetParam()));
  for (const CaseSpec& c : random_cases(GetParam(), rng)) {
    SCOPED_TRACE(canonical(c));
    const Inputs in = generate(c);
    const double sinks = c.has_sink() ? double(dtype_size(c.dtype)) * c.heads_q : 0.0;
    const double o = double(in.q.nbytes());  // o has q's shape and dtype
    const double lse = 4.0 * double(in.layout.lse_size());
    EXPECT_EQ(forward_bytes(c),
              double(in.q.nbytes() + in.k.nbytes() + in.v.nbytes()) + sinks + o + lse);
  }
}

// Keys visible to at least one row, by testing every (i, j) with the rule.
int64_t brute_visible_keys(const CaseSpec& c) {
  int64_t n = 0;
  for (int s = 0; s < c.num_seqs(); ++s) {
    const int64_t sq = c.sq(s), sk = c.sk(s);
    for (int64_t j = 0; j < sk; ++j) {
      bool seen = false;
      for (int64_t i = 0; i < sq && !seen; ++i)
        seen = is_visible(c.mask, j, query_position(i, sq, sk));
      n += seen ? 1 : 0;
    }
  }
  return n;
}

TEST_P(FlopModel, VisibleKeysMatchBruteForceAndOnlyTheirKVIsCounted) {
  std::mt19937 rng(uint32_t(sinkbench::testing::test_seed()) + uint32_t(GetParam()));
  std::vector<CaseSpec> cases = random_cases(GetParam(), rng);
  // Decode rows (Sq 1) too: where a window hides most of the cache.
  for (CaseSpec c : random_cases(GetParam(), rng)) {
    c.varlen_q.assign(c.varlen_q.size(), 1);
    c.seqlen_q = 1;
    cases.push_back(c);
  }
  for (const CaseSpec& c : cases) {
    SCOPED_TRACE(canonical(c));
    const int64_t visible = brute_visible_keys(c);
    EXPECT_EQ(visible_key_count(c), visible);
    const int64_t hidden = make_layout(c).total_k() - visible;
    const double kv_per_key = 2.0 * double(dtype_size(c.dtype)) * c.heads_kv * c.head_dim;
    EXPECT_EQ(forward_bytes_visible_keys(c), forward_bytes(c) - kv_per_key * double(hidden));
  }
}

INSTANTIATE_TEST_SUITE_P(EveryMask, FlopModel,
                         ::testing::Values(MaskKind::none, MaskKind::causal,
                                           MaskKind::sliding_window, MaskKind::sink_tokens),
                         [](const auto& info) { return std::string(mask_name(info.param)); });

// A half-causal square case: the count is the triangle, so causal FLOPs are about half.
TEST(FlopModelShape, CausalSquareIsTheTriangle) {
  CaseSpec c;
  c.seqlen_q = c.seqlen_k = 100;
  c.heads_q = 4;
  c.heads_kv = 2;
  c.mask.kind = MaskKind::causal;
  EXPECT_EQ(pair_count(c), 4.0 * 100 * 101 / 2);
  c.mask.kind = MaskKind::none;
  EXPECT_EQ(pair_count(c), 4.0 * 100 * 100);
}

}  // namespace
}  // namespace sinkbench
