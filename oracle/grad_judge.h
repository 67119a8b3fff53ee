// oracle/grad_judge.h — one backward pass judged by the backward oracle and the gradient policy as
// `sinkbench run` judges it, the set-up a case's backward needs (inputs, incoming gradients, the
// oracle with the policy's logit error model), and a one-line summary of the verdict (oracle
// layer). Shared by the tests (tests/support/grad_judge.h) and tools/findings/grad_calibrate.cpp.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "cases/generate.h"
#include "oracle/grad_verdict.h"
#include "oracle/oracle_bwd.h"

namespace sinkbench {

struct GradJudged {
  BackwardMetrics metrics;
  Verdict verdict;
};

// dq, dk, dv in the case dtype and dsinks fp32, as an implementation's BackwardResult holds them.
inline GradJudged judge_gradients(const CaseSpec& c, const Layout& layout,
                                  const OracleBackward& ref, const Tensor& dq, const Tensor& dk,
                                  const Tensor& dv, const std::vector<float>& dsinks) {
  GradJudged j;
  j.metrics = measure_backward(c, layout, ref, dq, dk, dv, dsinks);
  j.verdict = judge_backward(c, j.metrics);
  return j;
}

// Everything a case needs for backward passes: inputs, gradients, the oracle.
struct GradSetup {
  Inputs in;
  GradInputs g;
  OracleBackward ref;
  explicit GradSetup(const CaseSpec& c)
      : in(generate(c)),
        g(generate_grads(c, in.layout)),
        ref(oracle_backward(c, in, g, grad_logit_error(c))) {}
};

// "pass  | dq: budget 0.03 cw 1.2 ratio 1.500 nan 0 | ... | <the verdict's sentence>"
inline std::string grad_summary(const GradJudged& j) {
  std::string out = fmt::format("{} {} |", status_name(j.verdict.status), j.verdict.bound);
  for (Grad g : kGrads) {
    const GradMetrics& m = j.metrics.of(g);
    out += fmt::format(" {}: budget {:.3g} cw {:.3g} ratio {:.3f} nan {} |", grad_name(g), m.budget,
                       m.cw, m.floor_ratio, m.nan_count);
  }
  return out + " " + j.verdict.detail;
}

}  // namespace sinkbench
