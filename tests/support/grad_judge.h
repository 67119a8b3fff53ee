// tests/support/grad_judge.h — one implementation's backward pass on one case, judged by the
// backward oracle and the gradient policy (oracle/grad_judge.h, shared with the calibration tool),
// with a one-line summary for assertion messages.
#pragma once

#include "impls/impl.h"
#include "oracle/grad_judge.h"

namespace sinkbench::testing {

using sinkbench::grad_summary;
using sinkbench::GradJudged;
using sinkbench::GradSetup;

inline GradJudged judge_gradients(const CaseSpec& c, const Inputs& in, const OracleBackward& ref,
                                  const BackwardResult& got) {
  return sinkbench::judge_gradients(c, in.layout, ref, got.dq, got.dk, got.dv, got.dsinks);
}

// The implementation's forward, then its backward from the forward's own outputs.
inline BackwardResult forward_backward(const Impl& impl, const CaseSpec& c, const GradSetup& s) {
  return impl.backward(c, s.in, impl.forward(c, s.in), s.g);
}

}  // namespace sinkbench::testing
