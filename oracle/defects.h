// oracle/defects.h — the diagnosis of a failing implementation (DESIGN §4, docs/policy.md): a
// catalogue of the defects that keep recurring in attention with sinks, each a variant of the FP64
// oracle (the forward Faults of impls/faults.h), evaluated on the judged rows and heads of a case
// that failed. The models whose outputs explain the implementation's within the policy name the
// likely cause; none may.
#pragma once

#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "core/tensor.h"
#include "impls/faults.h"
#include "oracle/oracle.h"
#include "oracle/verdict.h"

namespace sinkbench {

struct DefectModel {
  std::string name;         // stable, the results column's vocabulary: "sink_ignored"
  std::string description;  // one line a person recognises the bug by
  Faults faults;            // how it perturbs the oracle
  // False where the model cannot differ from the contract (no sink, no window, Sq = Sk, ...):
  // the model is then not evaluated.
  bool (*applies)(const CaseSpec& c);
};

// The forward catalogue, in report order (docs/policy.md lists it).
const std::vector<DefectModel>& forward_defects();

// The results column's value for a failure that no model explains.
inline constexpr const char* kNoKnownDefect = "no known defect";

struct Diagnosis {
  std::vector<std::string> explained_by;  // model names, catalogue order; empty: none explains
  // The results column's value: "sink_ignored", "window_wide, gqa_modulo" or kNoKnownDefect.
  std::string column() const;
};

// Which models explain the outputs (o, and lse unless null: an implementation that returns none)
// of an implementation judged with `policy` against `ref` (the contract, on its judged rows and
// heads). A model explains them when (1) the model's own outputs, stored as an implementation
// would store them, fail the contract on this case (the defect can show here), and (2) the
// implementation's outputs are within the policy of the model's; lse_rounded also needs every
// judged lse to be a value of the dtype. Costs one oracle evaluation per applicable model.
Diagnosis diagnose(const CaseSpec& c, const Inputs& in, const OracleResult& ref, const Tensor& o,
                   const std::vector<float>* lse, const Policy& policy);

// A results column value as a person reads it: "explained by: sink_ignored", "no known defect
// explains it", "" for an empty value (a passing result).
std::string diagnosis_line(const std::string& column);

}  // namespace sinkbench
