// tests/impls/planted/planted_test.cpp — the planted-bug suite: each defect users meet in the
// field, planted in the tiled and lse_renorm CPU references, must fail the policy naming the
// expected bound on a case chosen to expose it, while the clean implementation passes it.
#include "tests/impls/planted/planted.h"
#include "impls/lse_renorm/lse_renorm.h"
#include "impls/tiled/tiled.h"

namespace sinkbench::testing {
namespace {

std::unique_ptr<Impl> tiled_with(const Faults& f) {
  TiledOptions opt;
  opt.faults = f;
  return make_tiled_cpu(opt);
}

std::unique_ptr<Impl> lse_renorm_with(const Faults& f) {
  LseRenormOptions opt;
  opt.faults = f;
  return make_lse_renorm_cpu(opt);
}

Faults fault(bool Faults::*which) {
  Faults f;
  f.*which = true;
  return f;
}

// Sq != Sk so that the alignment matters; window 7 so that one extra key weighs ~1/8; Hkv = 16 of
// Hq = 64 so that h % Hkv and h / 4 differ; sinks band:4:8 so that leaving one out shows. 64
// heads because a sink's sign is random: with 8 heads all eight came out negative on 1 seed in
// 256, and a negative sink weighs too little to show in bf16.
std::vector<PlantedBug> planted_bugs() {
  const MaskRule causal{MaskKind::causal}, window7{MaskKind::sliding_window, 7};
  auto ragged = [](DType t, MaskRule m, uint64_t salt) {
    return [=] { return planted_case(t, m, 113, 203, 64, 16, salt); };
  };
  return {
      {"tiled_ignore_sink_fp32", tiled_with, fault(&Faults::ignore_sink),
       ragged(DType::f32, causal, 1), "o_bound"},
      {"tiled_ignore_sink_bf16", tiled_with, fault(&Faults::ignore_sink),
       ragged(DType::bf16, causal, 2), "o_bound"},
      {"lse_renorm_ignore_sink_bf16", lse_renorm_with, fault(&Faults::ignore_sink),
       ragged(DType::bf16, causal, 3), "o_bound"},
      {"tiled_window_off_by_one_fp32", tiled_with, fault(&Faults::window_off_by_one),
       ragged(DType::f32, window7, 4), "o_bound"},
      {"tiled_window_off_by_one_bf16", tiled_with, fault(&Faults::window_off_by_one),
       ragged(DType::bf16, window7, 5), "o_bound"},
      {"lse_renorm_window_off_by_one_bf16", lse_renorm_with, fault(&Faults::window_off_by_one),
       ragged(DType::bf16, window7, 6), "o_bound"},
      {"tiled_lse_without_sink_bf16", tiled_with, fault(&Faults::lse_without_sink),
       ragged(DType::bf16, causal, 7), "lse_bound"},
      {"lse_renorm_lse_without_sink_fp32", lse_renorm_with, fault(&Faults::lse_without_sink),
       ragged(DType::f32, causal, 8), "lse_bound"},
      {"tiled_gqa_modulo_fp32", tiled_with, fault(&Faults::gqa_modulo),
       ragged(DType::f32, causal, 9), "o_bound"},
      {"tiled_gqa_modulo_bf16", tiled_with, fault(&Faults::gqa_modulo),
       ragged(DType::bf16, window7, 10), "o_bound"},
      {"tiled_causal_top_left_bf16", tiled_with, fault(&Faults::causal_top_left),
       ragged(DType::bf16, causal, 11), "o_bound"},
      {"lse_renorm_causal_top_left_fp32", lse_renorm_with, fault(&Faults::causal_top_left),
       ragged(DType::f32, causal, 12), "o_bound"},
      // Every row sees >= 32 keys: the floor-ratio prediction applies (docs/policy.md).
      {"tiled_unrounded_p_bf16", tiled_with, fault(&Faults::unrounded_p),
       [] { return planted_case(DType::bf16, {MaskKind::none}, 113, 203, 8, 2, 13); },
       "floor_ratio_min"},
      {"tiled_unrounded_p_bf16_window128", tiled_with, fault(&Faults::unrounded_p),
       [] {
         return planted_case(DType::bf16, {MaskKind::sliding_window, 128}, 255, 256, 8, 1, 14);
       },
       "floor_ratio_min"},
  };
}

class Planted : public ::testing::TestWithParam<PlantedBug> {};

TEST_P(Planted, CaughtByTheNamedBound) {
  expect_caught_by_name(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Cpu, Planted, ::testing::ValuesIn(planted_bugs()), planted_name);

}  // namespace
}  // namespace sinkbench::testing
