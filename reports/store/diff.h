// reports/store/diff.h — `sinkbench diff golden.h5 run.h5`: compares a run with a golden fixture
// case by case (oracle drift, bit-identity of CPU reference outputs, verdict changes, metric
// regressions, new and missing cases) under the rules of docs/reports.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sinkbench {

// The diff rules' constants (docs/reports.md says why each is what it is).
struct DiffRules {
  double oracle_rel = 1e-12;   // oracle drift of o and lse: max |run - golden| / max |golden|
  double scale_rel = 1e-5;     // the same for the oracle's error scales (m), computed in float
  double growth = 2.0;         // a metric regresses when it grows by more than this factor...
  double noise_budget = 0.05;  // ...and its budget (o_budget / lse_budget) in the run is >= this
};

struct Finding {
  std::string kind;  // missing_case, new_case, missing_result, new_result, oracle_drift,
                     // input_drift, not_bit_identical, missing_array, verdict, metric, improved
  std::string case_id, label, impl;
  std::string detail;
  bool regression = false;
};

struct DiffResult {
  std::string golden, run;
  std::vector<Finding> findings;
  std::vector<std::string> notes;              // what could not be checked, and why
  int64_t cases = 0, results = 0, arrays = 0;  // compared in both files
  int64_t regressions() const;
};

// Throws InputError (exit 2) naming the file when either cannot be read as a results file.
DiffResult diff_runs(const std::string& golden, const std::string& run,
                     const DiffRules& rules = {});

// The readable table printed by `sinkbench diff`, ending with a one-line verdict.
std::string render_diff(const DiffResult& d);

}  // namespace sinkbench
