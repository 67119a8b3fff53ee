// oracle/grad_verdict.h — metrics of an implementation's gradients against the backward oracle,
// and the gradient part of the policy (docs/policy.md, "Version 2: gradients"): per gradient the
// metrics o has, and a bound derived from unit roundoff; a failure names the gradient and bound.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "core/tensor.h"
#include "oracle/oracle_bwd.h"
#include "oracle/verdict.h"

namespace sinkbench {

// Constants of the gradient bounds (why each is what it is: docs/policy.md).
struct GradPolicy {
  double k_round = 8;  // dtype roundings of quantities bounded by m (dS, P, dP, D twice, output...)
  double k_logit = 2;  // dtype roundings of each logit-domain value, as for o
  double k_acc = 4;    // fp32 accumulation and dot products: 4 standard deviations
};

// The logit-domain error model the oracle weighs its l scales with: logit = k_logit u,
// dot = k_acc u32 sqrt(D).
LogitErrorModel grad_logit_error(const CaseSpec& c, const GradPolicy& p = {});

struct GradMetrics {
  int64_t elements = 0;    // judged elements
  double max_abs = 0;      // max |g^ - g|
  double rel_l2 = 0;       // ||g^ - g|| / ||g||
  double cw = 0;           // max |g^ - g| / (u m)
  double floor_cw = 0;     // the same for g rounded once to its storage type
  double floor_l2 = 0;     // ||round(g) - g|| / ||g||
  double floor_ratio = 0;  // rel_l2 / floor_l2
  double budget = 0;       // max |g^ - g| / bound: passes when <= 1
  int64_t nan_count = 0;   // NaN where the oracle is finite
  int64_t inf_count = 0;   // infinite elements
  // The element with the largest budget: its sequence, row (query row for dq, key row for dk and
  // dv, -1 for dσ), head (query head; KV head for dk and dv), dim.
  int worst_seq = 0;
  int64_t worst_row = 0;
  int worst_head = 0;
  int worst_dim = 0;
  double worst_got = 0;
  double worst_want = 0;
};

struct BackwardMetrics {
  std::array<GradMetrics, 4> grads;  // in kGrads order: dq, dk, dv, dsinks
  const GradMetrics& of(Grad g) const { return grads[size_t(g)]; }
  GradMetrics& of(Grad g) { return grads[size_t(g)]; }
};

// dq [total_q, Hq, D], dk and dv [total_k, Hkv, D] in the case dtype, dsinks [Hq] fp32 (empty
// without a sink). Throws InternalError on a shape that does not match the case.
BackwardMetrics measure_backward(const CaseSpec& c, const Layout& layout, const OracleBackward& ref,
                                 const Tensor& dq, const Tensor& dk, const Tensor& dv,
                                 const std::vector<float>& dsinks, const GradPolicy& p = {});
// The first failing gradient, in the order dq, dk, dv, dsinks; bounds "<grad>_nan",
// "<grad>_inf", "<grad>_bound".
Verdict judge_backward(const CaseSpec& c, const BackwardMetrics& m, const GradPolicy& p = {});

}  // namespace sinkbench
