// tests/impls/backward_test.cpp — every CPU implementation with a backward pass against the FP64
// backward oracle and the gradient policy over a sweep of dtypes, masks, GQA ratios, ragged
// lengths (rows without keys included), sinks and dlse, wherever the forward passes; backward
// passes give the same bits twice; the others say why they have none.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/support/grad_judge.h"
#include "tests/support/judge.h"
#include "tests/support/test_seed.h"

namespace sinkbench::testing {
namespace {

struct BwdCase {
  DType dtype;
  MaskRule mask;
  int gqa;
  int64_t sq, sk;
  SinkDist sink;
  DlseKind dlse;
};

std::string mask_text(const MaskRule& m) {
  switch (m.kind) {
    case MaskKind::none:
      return "none";
    case MaskKind::causal:
      return "causal";
    case MaskKind::sliding_window:
      return "window" + std::to_string(m.window);
    case MaskKind::sink_tokens:
      return "sinktok" + std::to_string(m.sink_tokens);
  }
  return "mask";
}

std::string case_name(const ::testing::TestParamInfo<BwdCase>& info) {
  const BwdCase& p = info.param;
  return std::string(dtype_name(p.dtype)) + "_" + mask_text(p.mask) + "_gqa" +
         std::to_string(p.gqa) + "_" + std::to_string(p.sq) + "x" + std::to_string(p.sk) +
         (p.sink.kind == SinkKind::none ? "_nosink" : "") +
         (p.dlse == DlseKind::normal ? "_dlse" : "");
}

void PrintTo(const BwdCase& p, std::ostream* os) {
  *os << dtype_name(p.dtype) << " " << mask_text(p.mask) << " gqa" << p.gqa << " " << p.sq << "x"
      << p.sk;
}

std::vector<BwdCase> sweep() {
  std::vector<BwdCase> out;
  const SinkDist band{SinkKind::band, 4, 8}, none{SinkKind::none, 0, 0};
  int n = 0;
  for (DType t : {DType::f32, DType::f16, DType::bf16})
    for (MaskRule m :
         {MaskRule{MaskKind::none}, MaskRule{MaskKind::causal},
          MaskRule{MaskKind::sliding_window, 7}, MaskRule{MaskKind::sink_tokens, 16, 4}})
      for (int gqa : {1, 4})
        for (auto [sq, sk] : {std::pair<int64_t, int64_t>{1, 77}, {37, 45}, {50, 30}}) {
          if (m.kind == MaskKind::none && sq > sk) continue;  // no row without keys there
          ++n;
          out.push_back({t, m, gqa, sq, sk, n % 5 == 0 ? none : band,
                         n % 2 == 0 ? DlseKind::normal : DlseKind::none});
        }
  return out;
}

CaseSpec spec_of(const BwdCase& p) {
  CaseSpec c;
  c.dtype = p.dtype;
  c.mask = p.mask;
  c.seqlen_q = p.sq;
  c.seqlen_k = p.sk;
  c.heads_q = 8;
  c.heads_kv = 8 / p.gqa;
  c.sink = p.sink;
  c.grad = GradKind::d_o;
  c.dlse = p.dlse;
  c.seed = test_seed() + uint64_t(p.sq * 131 + p.sk);
  return c;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), size_t(a.nbytes())) == 0;
}

class Backward : public ::testing::TestWithParam<BwdCase> {};

TEST_P(Backward, EveryCpuBackwardPassesTheGradientPolicyAndRepeatsItsBits) {
  const CaseSpec c = spec_of(GetParam());
  const GradSetup setup(c);
  const OracleResult fwd_ref = oracle_forward(c, setup.in);
  int judged = 0;
  for (const auto& impl : all_impls()) {
    if (impl->device() != Device::cpu || !impl->supports(c).ok) continue;
    const Support s = impl->supports_backward(c);
    if (!s.ok) {
      EXPECT_FALSE(s.reason.empty()) << impl->name();
      continue;
    }
    const ForwardResult fwd = impl->forward(c, setup.in);
    // Gradients of a wrong forward are not judged here (eager's rows without keys or sink).
    if (judge_outputs(c, setup.in, fwd_ref, fwd, std::nullopt).verdict.status != Status::pass)
      continue;
    ++judged;
    const BackwardResult a = impl->backward(c, setup.in, fwd, setup.g);
    const GradJudged j = judge_gradients(c, setup.in, setup.ref, a);
    EXPECT_EQ(j.verdict.status, Status::pass)
        << impl->name() << " on " << case_label(c) << " seed " << c.seed << ": " << grad_summary(j);
    const BackwardResult b = impl->backward(c, setup.in, fwd, setup.g);
    EXPECT_TRUE(same_bits(a.dq, b.dq) && same_bits(a.dk, b.dk) && same_bits(a.dv, b.dv) &&
                a.dsinks == b.dsinks)
        << impl->name() << ": two runs gave different gradient bits";
  }
  EXPECT_GE(judged, 1) << "no CPU implementation has a backward pass for " << case_label(c);
}

INSTANTIATE_TEST_SUITE_P(Cpu, Backward, ::testing::ValuesIn(sweep()), case_name);

}  // namespace
}  // namespace sinkbench::testing
