// oracle/verdict.h — metrics of an implementation's outputs against the oracle, and the one
// versioned policy that turns them into pass/fail, naming the bound that failed (docs/policy.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "core/tensor.h"
#include "oracle/oracle.h"

namespace sinkbench {

// 2: the lse bound of fp32 logits (unless an implementation rounds them) and the gradient
// bounds (oracle/grad_verdict.h); docs/policy.md "Version 2".
inline constexpr int kPolicyVersion = 2;

// Policy v2 constants (why each is what it is: docs/policy.md).
struct Policy {
  double k_round = 4;  // dtype roundings of quantities of size <= M: o, P, o before renorm, spare
  double k_logit = 2;  // dtype roundings of each logit-domain quantity (QK^T, scaled logits, lse)
  double k_acc = 4;    // fp32 accumulation, exp and normalisation: 4 sqrt(n+1) fp32 units
  // v2: the lse bound's logit-domain roundings are fp32 ones unless the implementation declares
  // that it rounds its logits to the dtype (Impl::rounds_logits; an exchange file's attribute).
  bool logits_in_dtype = false;
  // Dtype roundings of the returned lse itself: 0 (the contract's lse is fp32); the diagnosis'
  // lse_rounded model sets 1.
  double k_lse_dtype = 0;
};

struct Metrics {
  int64_t elements = 0;       // judged output elements (evaluated rows x heads x D)
  double max_abs = 0;         // max |o^ - o|
  double rel_l2 = 0;          // ||o^ - o|| / ||o||
  double cw = 0;              // max |o^ - o| / (u M): componentwise error in units of u P|V|
  double floor_cw = 0;        // the same for round(o), the exactly rounded output
  double floor_l2 = 0;        // ||round(o) - o|| / ||o||
  double floor_ratio = 0;     // rel_l2 / floor_l2: 1 means no worse than rounding the exact output
  double o_budget = 0;        // max |o^ - o| / bound: the policy passes o when <= 1
  double lse_abs = 0;         // max |lse^ - lse|
  double lse_budget = 0;      // max |lse^ - lse| / lse bound: passes when <= 1
  int64_t nan_count = 0;      // NaN in o^ where the oracle is finite
  int64_t inf_count = 0;      // +-inf in o^
  int64_t lse_nan_count = 0;  // NaN in lse^
  // The element with the largest o_budget.
  int worst_seq = 0;
  int64_t worst_row = 0;
  int worst_head = 0;
  int worst_dim = 0;
  double worst_got = 0;
  double worst_want = 0;
};

enum class Status { pass, fail, skip, error };
std::string_view status_name(Status s);

struct Verdict {
  Status status = Status::pass;
  std::string bound;   // the failed bound: nan, inf, lse_nan, o_bound, lse_bound, floor_ratio_min
  std::string detail;  // one line a person can act on
};

// o: [total_q, Hq, D] in the case dtype; lse: Layout::lse_size() fp32 values.
Metrics measure(const CaseSpec& c, const Layout& layout, const OracleResult& ref, const Tensor& o,
                const std::vector<float>& lse, const Policy& policy = {});
// min_floor_ratio: from Impl::min_floor_ratio (nullopt: not checked).
Verdict judge(const CaseSpec& c, const Metrics& m, std::optional<double> min_floor_ratio,
              const Policy& policy = {});

}  // namespace sinkbench
