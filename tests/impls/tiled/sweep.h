// tests/impls/tiled/sweep.h — the case sweep shared by the tiled and lse_renorm tests: dtype x
// mask x GQA x ragged lengths with the default sink band:4:8, readable parameter names, fresh
// seeds, and one oracle per case judged against several implementations.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "impls/impl.h"
#include "tests/support/judge.h"
#include "tests/support/test_seed.h"

namespace sinkbench::testing {

struct SweepCase {
  DType dtype = DType::bf16;
  MaskRule mask;
  int heads_q = 8;
  int heads_kv = 8;
  int64_t sq = 1;
  int64_t sk = 1;
  uint64_t salt = 0;  // distinguishes the seeds of the cases of one run
};

inline std::string mask_label(const MaskRule& m) {
  switch (m.kind) {
    case MaskKind::none:
      return "none";
    case MaskKind::causal:
      return "causal";
    case MaskKind::sliding_window:
      return "window" + std::to_string(m.window);
    case MaskKind::sink_tokens:
      return "sinktok" + std::to_string(m.sink_tokens) + "_window" + std::to_string(m.window);
  }
  return "mask";
}

// gtest parameter names: "bf16_window7_gqa4_113x203".
inline std::string sweep_name(const ::testing::TestParamInfo<SweepCase>& info) {
  const SweepCase& p = info.param;
  return std::string(dtype_name(p.dtype)) + "_" + mask_label(p.mask) + "_gqa" +
         std::to_string(p.heads_q / p.heads_kv) + "_" + std::to_string(p.sq) + "x" +
         std::to_string(p.sk);
}

// How gtest shows a parameter in failure messages and CTest names.
inline void PrintTo(const SweepCase& p, std::ostream* os) {
  *os << dtype_name(p.dtype) << " " << mask_label(p.mask) << " h" << p.heads_q << "/" << p.heads_kv
      << " " << p.sq << "x" << p.sk;
}

inline std::vector<MaskRule> sweep_masks() {
  return {{MaskKind::none},
          {MaskKind::causal},
          {MaskKind::sliding_window, 1},
          {MaskKind::sliding_window, 7},
          {MaskKind::sliding_window, 128},
          {MaskKind::sink_tokens, 16, 4}};
}

// dtype x mask x GQA {1, 4, 8} (Hq = 8) x lengths {1x1, 1x203, 113x203, 255x256}.
inline std::vector<SweepCase> sweep_cases() {
  struct Len {
    int64_t sq, sk;
  };
  const Len lens[] = {{1, 1}, {1, 203}, {113, 203}, {255, 256}};
  std::vector<SweepCase> out;
  for (DType t : kAllDTypes)
    for (const MaskRule& m : sweep_masks())
      for (int gqa : {1, 4, 8})
        for (const Len& l : lens) {
          SweepCase p{t, m, 8, 8 / gqa, l.sq, l.sk, uint64_t(out.size())};
          out.push_back(p);
        }
  return out;
}

inline CaseSpec to_case(const SweepCase& p) {
  CaseSpec c;
  c.dtype = p.dtype;
  c.mask = p.mask;
  c.heads_q = p.heads_q;
  c.heads_kv = p.heads_kv;
  c.seqlen_q = p.sq;
  c.seqlen_k = p.sk;
  c.seed = test_seed() + 0x9E3779B97F4A7C15ull * (p.salt + 1);
  return c;  // sink band:4:8, normal inputs, D = 64: CaseSpec's defaults
}

// Varlen batches (ragged, one sequence of Sk = 1) for every dtype and mask, GQA 4.
inline std::vector<CaseSpec> varlen_cases(uint64_t salt) {
  std::vector<CaseSpec> out;
  for (DType t : kAllDTypes)
    for (const MaskRule& m : sweep_masks()) {
      CaseSpec c = to_case(SweepCase{t, m, 8, 2, 1, 1, salt++});
      c.varlen_q = {1, 113, 37, 255, 64};
      c.varlen_k = {203, 113, 300, 256, 1};
      out.push_back(c);
    }
  return out;
}

// Sq > Sk: rows with no visible key, with and without a sink.
inline std::vector<CaseSpec> fully_masked_cases(uint64_t salt) {
  std::vector<CaseSpec> out;
  for (DType t : kAllDTypes)
    for (MaskRule m : {MaskRule{MaskKind::causal}, MaskRule{MaskKind::sliding_window, 7}})
      for (bool sink : {true, false}) {
        CaseSpec c = to_case(SweepCase{t, m, 8, 2, 203, 113, salt++});
        if (!sink) c.sink = SinkDist{SinkKind::none};
        out.push_back(c);
      }
  return out;
}

inline std::vector<CaseSpec> sinkless_cases(uint64_t salt) {
  std::vector<CaseSpec> out;
  for (DType t : kAllDTypes) {
    CaseSpec c = to_case(SweepCase{t, {MaskKind::causal}, 8, 2, 113, 203, salt++});
    c.sink = SinkDist{SinkKind::none};
    out.push_back(c);
  }
  return out;
}

// sigma = +-30: the sink takes (almost) all or none of the mass.
inline std::vector<CaseSpec> extreme_sink_cases(uint64_t salt) {
  std::vector<CaseSpec> out;
  for (DType t : kAllDTypes) {
    CaseSpec c = to_case(SweepCase{t, {MaskKind::sliding_window, 128}, 8, 1, 113, 203, salt++});
    c.sink = SinkDist{SinkKind::extreme, 30};
    out.push_back(c);
  }
  return out;
}

// The exactly rounded oracle output judged like an implementation: the policy must pass it.
inline Verdict floor_verdict(const CaseSpec& c, const Inputs& in, const OracleResult& ref) {
  const Layout& L = in.layout;
  ForwardResult exact;
  exact.o = Tensor(c.dtype, {L.total_q(), L.heads_q, L.head_dim});
  exact.lse.assign(size_t(L.lse_size()), 0.0f);
  for (size_t r = 0; r < ref.rows.size(); ++r) {
    const int s = ref.rows.seq[r];
    const int64_t i = ref.rows.row[r];
    for (size_t hi = 0; hi < ref.rows.heads.size(); ++hi) {
      const int h = ref.rows.heads[hi];
      const int64_t base = L.q_offset(s, i, h);
      for (int d = 0; d < L.head_dim; ++d)
        exact.o.set_bits(base + d, to_bits(c.dtype, round_to(c.dtype, ref.o[ref.at(r, hi, d)])));
      exact.lse[size_t(L.lse_offset(s, h, i))] = float(ref.lse[ref.at(r, hi)]);
    }
  }
  return judge_outputs(c, in, ref, exact, std::nullopt).verdict;
}

// Judges every implementation on c against one oracle; each must pass policy v1, and so must
// the exactly rounded output.
inline void expect_all_pass(const std::vector<const Impl*>& impls, const CaseSpec& c) {
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  const Verdict floor = floor_verdict(c, in, ref);
  EXPECT_EQ(floor.status, Status::pass) << "round(o) on " << case_label(c) << " seed " << c.seed
                                        << ": " << floor.bound << " " << floor.detail;
  for (const Impl* impl : impls)
    expect_passes(*impl, c, in, ref);
}

#define SINKBENCH_EXPECT_ALL_PASS(impls, cases)         \
  do {                                                  \
    for (const ::sinkbench::CaseSpec& c_ : cases)       \
      ::sinkbench::testing::expect_all_pass(impls, c_); \
  } while (0)

// Two runs of the same implementation on the same inputs give the same bits.
inline void expect_bit_identical(const ForwardResult& a, const ForwardResult& b) {
  ASSERT_EQ(a.o.nbytes(), b.o.nbytes());
  EXPECT_EQ(std::memcmp(a.o.data(), b.o.data(), size_t(a.o.nbytes())), 0) << "o differs";
  ASSERT_EQ(a.lse.size(), b.lse.size());
  EXPECT_EQ(std::memcmp(a.lse.data(), b.lse.data(), a.lse.size() * sizeof(float)), 0)
      << "lse differs";
}

}  // namespace sinkbench::testing
