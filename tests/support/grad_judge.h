// tests/support/grad_judge.h — one implementation's backward pass on one case, judged by the
// backward oracle and the gradient policy, with a one-line summary for assertion messages.
#pragma once

#include <fmt/format.h>

#include <string>

#include "cases/generate.h"
#include "impls/impl.h"
#include "oracle/grad_verdict.h"
#include "oracle/oracle_bwd.h"

namespace sinkbench::testing {

struct GradJudged {
  BackwardMetrics metrics;
  Verdict verdict;
};

inline GradJudged judge_gradients(const CaseSpec& c, const Inputs& in, const OracleBackward& ref,
                                  const BackwardResult& got) {
  GradJudged j;
  j.metrics = measure_backward(c, in.layout, ref, got.dq, got.dk, got.dv, got.dsinks);
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

// The implementation's forward, then its backward from the forward's own outputs.
inline BackwardResult forward_backward(const Impl& impl, const CaseSpec& c, const GradSetup& s) {
  return impl.backward(c, s.in, impl.forward(c, s.in), s.g);
}

inline std::string grad_summary(const GradJudged& j) {
  std::string out = fmt::format("{} {} |", status_name(j.verdict.status), j.verdict.bound);
  for (Grad g : kGrads) {
    const GradMetrics& m = j.metrics.of(g);
    out += fmt::format(" {}: budget {:.3g} cw {:.3g} ratio {:.3f} nan {} |", grad_name(g), m.budget,
                       m.cw, m.floor_ratio, m.nan_count);
  }
  return out + " " + j.verdict.detail;
}

}  // namespace sinkbench::testing
