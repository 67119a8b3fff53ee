// tests/impls/planted/planted_split_test.cpp — the split-KV planted bug: every partial of
// flash_paged's split-KV decode adds the sink and the combine adds it again. Needs the paged
// family's CPU flash_paged (impls/paged/paged.h).
#include "impls/paged/paged.h"
#include "tests/impls/planted/planted.h"

namespace sinkbench::testing {
namespace {

std::unique_ptr<Impl> flash_paged_with(const Faults& f) {
  FlashPagedOptions opt;
  opt.num_splits = 4;
  opt.faults = f;
  return make_flash_paged_cpu(opt);
}

Faults sink_per_split() {
  Faults f;
  f.sink_per_split = true;
  return f;
}

// Decode rows over 1024 keys in 4 splits: the sink counted 4 + 1 times shows in every row. In
// both dtypes the gpt-oss head count (64 heads, half with a positive sink) makes the output, not
// only the lse, break its bound on every seed: with 8 heads, o stayed within it on about 1 bf16
// seed in 40, and in fp32 whenever all 8 sinks drew a negative sign (1 in 256).
std::vector<PlantedBug> split_bugs() {
  return {
      {"flash_paged_sink_per_split_bf16", flash_paged_with, sink_per_split(),
       [] { return planted_case(DType::bf16, {MaskKind::causal}, 4, 1024, 64, 8, 101); },
       "o_bound"},
      {"flash_paged_sink_per_split_fp32", flash_paged_with, sink_per_split(),
       [] { return planted_case(DType::f32, {MaskKind::none}, 4, 1024, 64, 8, 102); }, "o_bound"},
  };
}

class PlantedSplit : public ::testing::TestWithParam<PlantedBug> {};

TEST_P(PlantedSplit, CaughtByTheNamedBound) {
  expect_caught_by_name(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Cpu, PlantedSplit, ::testing::ValuesIn(split_bugs()), planted_name);

}  // namespace
}  // namespace sinkbench::testing
