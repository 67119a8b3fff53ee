// tests/oracle/defects_test.cpp — the diagnosis (oracle/defects.h): every forward bug planted in a
// CPU reference fails and is explained by its own defect model and by no other; a random
// perturbation of correct outputs is explained by none; the catalogue is well formed.
#include "oracle/defects.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "impls/lse_renorm/lse_renorm.h"
#include "impls/paged/paged.h"
#include "impls/tiled/tiled.h"
#include "tests/impls/planted/planted.h"

namespace sinkbench::testing {
namespace {

struct PlantedDefect {
  PlantedBug bug;         // the implementation, the fault and the case that exposes it
  std::string diagnosis;  // the one model that must explain it
};

void PrintTo(const PlantedDefect& p, std::ostream* os) {
  *os << p.bug.name;
}

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

std::unique_ptr<Impl> flash_paged_4_splits(const Faults& f) {
  FlashPagedOptions opt;
  opt.num_splits = 4;
  opt.faults = f;
  return make_flash_paged_cpu(opt);
}

template <typename T>
Faults fault(T Faults::*which, T value) {
  Faults f;
  f.*which = value;
  return f;
}

// The planted suite's shape (tests/impls/planted/planted_test.cpp says why each number): Sq != Sk,
// Hq 64 / Hkv 16, sinks band:4:8.
std::function<CaseSpec()> ragged(DType t, MaskRule m, uint64_t salt) {
  return [=] { return planted_case(t, m, 113, 203, 64, 16, salt); };
}

std::vector<PlantedDefect> planted_defects() {
  const MaskRule causal{MaskKind::causal}, window7{MaskKind::sliding_window, 7};
  const MaskRule streaming{MaskKind::sink_tokens, 16, 4};
  const DType bf16 = DType::bf16, f32 = DType::f32;
  // Bounds are not asserted here (the planted suite does): only failure and the diagnosis.
  auto bug = [](std::string name, auto make, Faults f, std::function<CaseSpec()> c) {
    return PlantedBug{std::move(name), make, f, std::move(c), ""};
  };
  return {
      {bug("tiled_ignore_sink_bf16", tiled_with, fault(&Faults::ignore_sink, true),
           ragged(bf16, causal, 201)),
       "sink_ignored"},
      {bug("tiled_ignore_sink_fp32", tiled_with, fault(&Faults::ignore_sink, true),
           ragged(f32, window7, 202)),
       "sink_ignored"},
      {bug("lse_renorm_ignore_sink_bf16", lse_renorm_with, fault(&Faults::ignore_sink, true),
           ragged(bf16, causal, 203)),
       "sink_ignored"},
      {bug("tiled_sink_twice_bf16", tiled_with, fault(&Faults::sink_repeats, 1),
           ragged(bf16, causal, 204)),
       "sink_counted_x2"},
      {bug("flash_paged_sink_per_split_bf16", flash_paged_4_splits,
           fault(&Faults::sink_per_split, true),
           [] { return planted_case(DType::bf16, {MaskKind::causal}, 4, 1024, 64, 8, 205); }),
       "sink_counted_x5"},
      {bug("tiled_sink_scaled_bf16", tiled_with, fault(&Faults::sink_scaled, true),
           ragged(bf16, causal, 206)),
       "sink_scaled"},
      {bug("tiled_window_wide_bf16", tiled_with, fault(&Faults::window_off_by_one, true),
           ragged(bf16, window7, 207)),
       "window_wide"},
      {bug("tiled_window_wide_fp32", tiled_with, fault(&Faults::window_off_by_one, true),
           ragged(f32, window7, 208)),
       "window_wide"},
      {bug("tiled_window_narrow_bf16", tiled_with, fault(&Faults::window_short_by_one, true),
           ragged(bf16, window7, 209)),
       "window_narrow"},
      {bug("tiled_causal_top_left_bf16", tiled_with, fault(&Faults::causal_top_left, true),
           ragged(bf16, causal, 210)),
       "causal_top_left"},
      {bug("lse_renorm_causal_top_left_fp32", lse_renorm_with,
           fault(&Faults::causal_top_left, true), ragged(f32, causal, 211)),
       "causal_top_left"},
      {bug("tiled_prefix_dropped_bf16", tiled_with, fault(&Faults::prefix_dropped, true),
           ragged(bf16, causal, 212)),
       "prefix_dropped"},
      {bug("tiled_gqa_modulo_bf16", tiled_with, fault(&Faults::gqa_modulo, true),
           ragged(bf16, window7, 213)),
       "gqa_modulo"},
      {bug("tiled_sink_tokens_ignored_bf16", tiled_with, fault(&Faults::sink_tokens_ignored, true),
           ragged(bf16, streaming, 214)),
       "sink_tokens_ignored"},
      {bug("tiled_lse_without_sink_bf16", tiled_with, fault(&Faults::lse_without_sink, true),
           ragged(bf16, causal, 215)),
       "lse_without_sink"},
      {bug("lse_renorm_lse_without_sink_fp32", lse_renorm_with,
           fault(&Faults::lse_without_sink, true), ragged(f32, causal, 216)),
       "lse_without_sink"},
      {bug("tiled_lse_rounded_bf16", tiled_with, fault(&Faults::lse_rounded, true),
           ragged(bf16, causal, 217)),
       "lse_rounded"},
      {bug("tiled_lse_rounded_fp16", tiled_with, fault(&Faults::lse_rounded, true),
           ragged(DType::f16, window7, 218)),
       "lse_rounded"},
  };
}

class PlantedDiagnosis : public ::testing::TestWithParam<PlantedDefect> {};

TEST_P(PlantedDiagnosis, ExplainedByItsOwnModelAlone) {
  const PlantedDefect& p = GetParam();
  const CaseSpec c = p.bug.exposing_case();
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  const auto impl = p.bug.make(p.bug.fault);
  const ForwardResult got = impl->forward(c, in);
  const Policy policy = policy_of(*impl, c);
  const Judged j = judge_outputs(c, in, ref, got, impl->min_floor_ratio(c), policy);
  ASSERT_EQ(j.verdict.status, Status::fail) << case_label(c) << ": " << summary(j);
  const Diagnosis d = diagnose(c, in, ref, got.o, &got.lse, policy);
  EXPECT_EQ(d.explained_by, std::vector<std::string>{p.diagnosis})
      << case_label(c) << " seed " << c.seed << ": diagnosed " << d.column();
}

INSTANTIATE_TEST_SUITE_P(Cpu, PlantedDiagnosis, ::testing::ValuesIn(planted_defects()),
                         [](const auto& info) { return info.param.bug.name; });

// Correct outputs with noise of a few percent of their size added: they fail, and no defect
// model explains noise.
TEST(Diagnosis, RandomPerturbationIsNoKnownDefect) {
  const uint64_t seed = test_seed();
  for (DType t : {DType::bf16, DType::f32}) {
    const CaseSpec c = planted_case(t, {MaskKind::causal}, 113, 203, 64, 16, 301);
    const Inputs in = generate(c);
    const OracleResult ref = oracle_forward(c, in);
    const auto impl = make_tiled_cpu();
    ForwardResult got = impl->forward(c, in);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (int64_t i = 0; i < got.o.numel(); ++i)
      got.o.set(i, got.o.get(i) + noise(rng));
    for (float& x : got.lse)
      x += noise(rng);
    const Policy policy = policy_of(*impl, c);
    const Judged j = judge_outputs(c, in, ref, got, std::nullopt, policy);
    ASSERT_EQ(j.verdict.status, Status::fail) << summary(j);
    const Diagnosis d = diagnose(c, in, ref, got.o, &got.lse, policy);
    EXPECT_TRUE(d.explained_by.empty()) << case_label(c) << ": diagnosed " << d.column();
    EXPECT_EQ(d.column(), kNoKnownDefect);
    EXPECT_EQ(diagnosis_line(d.column()), "no known defect explains it");
  }
}

// Without lse (an external tool that returns none) the models are compared on o alone: a bug in
// o is still named.
TEST(Diagnosis, WithoutLseTheOutputAloneDecides) {
  const CaseSpec c = planted_case(DType::bf16, {MaskKind::causal}, 113, 203, 64, 16, 302);
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  const ForwardResult got = tiled_with(fault(&Faults::causal_top_left, true))->forward(c, in);
  const Diagnosis d = diagnose(c, in, ref, got.o, nullptr, Policy{});
  EXPECT_EQ(d.explained_by, std::vector<std::string>{"causal_top_left"}) << d.column();
  EXPECT_EQ(diagnosis_line(d.column()), "explained by: causal_top_left");
}

// Names are unique (the results column's vocabulary), every model says what it is and perturbs
// something.
TEST(Diagnosis, CatalogueIsWellFormed) {
  std::set<std::string> names;
  for (const DefectModel& m : forward_defects()) {
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
    EXPECT_FALSE(m.description.empty()) << m.name;
    EXPECT_EQ(m.name.find_first_of(" ,"), std::string::npos) << m.name;
    EXPECT_TRUE(m.applies != nullptr) << m.name;
  }
  for (const char* required : {"sink_ignored", "sink_counted_x2", "sink_scaled", "window_wide",
                               "window_narrow", "causal_top_left", "prefix_dropped", "gqa_modulo",
                               "lse_without_sink", "lse_rounded", "sink_tokens_ignored"})
    EXPECT_EQ(names.count(required), 1u) << required;
  EXPECT_EQ(diagnosis_line(""), "");
}

}  // namespace
}  // namespace sinkbench::testing
