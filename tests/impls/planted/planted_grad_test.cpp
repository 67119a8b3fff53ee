// tests/impls/planted/planted_grad_test.cpp — the planted gradient bugs: each defect trainers meet
// in the field, planted in the tiled CPU backward (and through it lse_renorm's), must fail the
// gradient policy naming the gradient and bound on a case chosen to expose it, while the clean
// backward passes the same case.
#include "impls/lse_renorm/lse_renorm.h"
#include "impls/tiled/tiled.h"
#include "tests/impls/planted/planted.h"
#include "tests/support/grad_judge.h"

namespace sinkbench::testing {
namespace {

struct PlantedGradBug {
  std::string name;
  std::function<std::unique_ptr<Impl>(const GradFaults&)> make;
  GradFaults fault;
  std::function<CaseSpec()> exposing_case;
  std::string bound;  // "<gradient>_<bound>"
};

void PrintTo(const PlantedGradBug& bug, std::ostream* os) {
  *os << bug.name;
}

std::unique_ptr<Impl> tiled_with(const GradFaults& f) {
  TiledOptions opt;
  opt.grad_faults = f;
  return make_tiled_cpu(opt);
}

std::unique_ptr<Impl> lse_renorm_with(const GradFaults& f) {
  LseRenormOptions opt;
  opt.grad_faults = f;
  return make_lse_renorm_cpu(opt);
}

GradFaults fault(bool GradFaults::*which) {
  GradFaults f;
  f.*which = true;
  return f;
}

// Sq != Sk; 64 query heads over 8 KV heads (gpt-oss), so that about half the sinks are positive
// and weigh in every bf16 row; dlse drawn where the bug is about it.
CaseSpec grad_case(DType t, MaskRule m, int64_t sq, int64_t sk, DlseKind dlse, uint64_t salt) {
  CaseSpec c = planted_case(t, m, sq, sk, 64, 8, salt);
  c.grad = GradKind::d_o;
  c.dlse = dlse;
  return c;
}

std::vector<PlantedGradBug> bugs() {
  const MaskRule causal{MaskKind::causal}, window7{MaskKind::sliding_window, 7};
  const auto with_dlse = DlseKind::normal, no_dlse = DlseKind::none;
  return {
      {"tiled_dsink_sign_bf16", tiled_with, fault(&GradFaults::dsink_sign),
       [=] { return grad_case(DType::bf16, causal, 48, 64, no_dlse, 1); }, "dsinks_bound"},
      {"tiled_dsink_sign_fp32", tiled_with, fault(&GradFaults::dsink_sign),
       [=] { return grad_case(DType::f32, causal, 48, 64, with_dlse, 2); }, "dsinks_bound"},
      {"tiled_dsink_group_sum", tiled_with, fault(&GradFaults::dsink_group_sum),
       [=] { return grad_case(DType::bf16, causal, 48, 64, with_dlse, 3); }, "dsinks_bound"},
      {"tiled_dsink_without_dlse", tiled_with, fault(&GradFaults::dsink_without_dlse),
       [=] { return grad_case(DType::bf16, causal, 48, 64, with_dlse, 4); }, "dsinks_bound"},
      {"tiled_sinkless_lse", tiled_with, fault(&GradFaults::sinkless_lse),
       [=] { return grad_case(DType::bf16, causal, 48, 64, no_dlse, 5); }, "dq_bound"},
      // In bf16 the logit-domain allowance l (sized for eager's rounded logits), summed
      // worst-case over every (row, head) that sees a key, lets a missing head hide in dk when
      // many rows see each key (causal, GQA 8: budget ~1, dv names it); a window of 7 and GQA 2
      // keep the sums short. fp32 shows it in dk anywhere.
      {"tiled_dkv_one_head_bf16", tiled_with, fault(&GradFaults::dkv_one_head),
       [=] {
         CaseSpec c = grad_case(DType::bf16, window7, 48, 64, no_dlse, 6);
         c.heads_kv = 32;
         return c;
       },
       "dk_bound"},
      {"tiled_dkv_one_head_fp32", tiled_with, fault(&GradFaults::dkv_one_head),
       [=] { return grad_case(DType::f32, causal, 48, 64, no_dlse, 11); }, "dk_bound"},
      {"tiled_dq_unscaled", tiled_with, fault(&GradFaults::dq_unscaled),
       [=] { return grad_case(DType::bf16, causal, 48, 64, no_dlse, 7); }, "dq_bound"},
      {"tiled_window_off_by_one_bwd", tiled_with, fault(&GradFaults::window_off_by_one),
       [=] { return grad_case(DType::bf16, window7, 48, 64, no_dlse, 8); }, "dq_bound"},
      // Sq > Sk, causal: the first 16 rows see no key.
      {"tiled_nan_empty_rows", tiled_with, fault(&GradFaults::nan_empty_rows),
       [=] { return grad_case(DType::bf16, causal, 64, 48, no_dlse, 9); }, "dq_nan"},
      {"lse_renorm_dkv_one_head", lse_renorm_with, fault(&GradFaults::dkv_one_head),
       [=] { return grad_case(DType::f32, causal, 48, 64, with_dlse, 10); }, "dk_bound"},
  };
}

class PlantedGrad : public ::testing::TestWithParam<PlantedGradBug> {};

TEST_P(PlantedGrad, CaughtByTheNamedGradientAndBound) {
  const PlantedGradBug& bug = GetParam();
  const CaseSpec c = bug.exposing_case();
  const GradSetup setup(c);
  const auto faulty = bug.make(bug.fault);
  const auto clean = bug.make(GradFaults{});
  const GradJudged bad =
      judge_gradients(c, setup.in, setup.ref, forward_backward(*faulty, c, setup));
  const GradJudged good =
      judge_gradients(c, setup.in, setup.ref, forward_backward(*clean, c, setup));
  EXPECT_EQ(bad.verdict.status, Status::fail) << case_label(c) << ": " << grad_summary(bad);
  EXPECT_EQ(bad.verdict.bound, bug.bound) << case_label(c) << ": " << grad_summary(bad);
  EXPECT_EQ(good.verdict.status, Status::pass) << case_label(c) << ": " << grad_summary(good);
}

INSTANTIATE_TEST_SUITE_P(Cpu, PlantedGrad, ::testing::ValuesIn(bugs()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sinkbench::testing
