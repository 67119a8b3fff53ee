// tests/impls/planted/planted_suite_test.cpp — the CI suite catches the planted bugs it is meant
// to catch on every case where they can show: tiled/cpu with a GQA modulo mapping fails every
// smoke case whose GQA ratio tells the mappings apart, with the sink ignored every bf16 case, and
// with its lse rounded to the dtype every bf16 and fp16 case (policy v2's fp32 lse bound).
#include "cases/suite.h"
#include "impls/tiled/tiled.h"
#include "tests/impls/planted/planted.h"

namespace sinkbench::testing {
namespace {

struct SuiteBug {
  std::string name;
  Faults fault;
  std::function<bool(const CaseSpec&)> shows;  // the cases where the bug must fail
};

void PrintTo(const SuiteBug& b, std::ostream* os) {
  *os << b.name;
}

std::vector<SuiteBug> suite_bugs() {
  Faults gqa, sink, lse;
  gqa.gqa_modulo = true;
  sink.ignore_sink = true;
  lse.lse_rounded = true;
  return {
      {"gqa_modulo", gqa,
       [](const CaseSpec& c) {
         for (int h = 0; h < c.heads_q; ++h)
           if (h % c.heads_kv != h / c.gqa()) return true;
         return false;
       }},
      {"ignore_sink_bf16", sink, [](const CaseSpec& c) { return c.dtype == DType::bf16; }},
      {"lse_rounded", lse, [](const CaseSpec& c) { return c.dtype != DType::f32; }},
  };
}

class PlantedOnSmoke : public ::testing::TestWithParam<SuiteBug> {};

TEST_P(PlantedOnSmoke, FailsEveryCaseWhereItCanShow) {
  const SuiteBug& bug = GetParam();
  const Suite smoke = load_suite("smoke");
  TiledOptions opt;
  opt.faults = bug.fault;
  const auto faulty = make_tiled_cpu(opt);
  int judged = 0;
  for (CaseSpec c : smoke.cases) {
    if (!bug.shows(c)) continue;
    c.seed = test_seed() ^ c.seed;  // fresh inputs each run; the suite's shapes and sinks
    const Judged j = run_and_judge(*faulty, c);
    EXPECT_EQ(j.verdict.status, Status::fail)
        << case_label(c) << " seed " << c.seed << ": " << summary(j);
    ++judged;
  }
  EXPECT_GT(judged, 0) << "no smoke case where " << bug.name << " can show";
}

INSTANTIATE_TEST_SUITE_P(Cpu, PlantedOnSmoke, ::testing::ValuesIn(suite_bugs()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sinkbench::testing
