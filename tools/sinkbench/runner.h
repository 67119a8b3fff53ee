// tools/sinkbench/runner.h — the per-case pipeline of `sinkbench run` (DESIGN §2): generate ->
// oracle -> for each implementation: supports()? forward -> measure -> judge : skip with reason.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "core/device.h"
#include "impls/impl.h"
#include "oracle/oracle.h"
#include "oracle/verdict.h"
#include "reports/store/store.h"

namespace sinkbench {

// An implementation chosen for a run, and whether its device is usable here.
struct ImplChoice {
  const Impl* impl = nullptr;
  bool available = true;
  std::string reason;  // why not, when !available (e.g. no CUDA device)
};

// names: empty for every registered implementation; else names (or comma lists) to look up.
// device: "cpu", "cuda" or "all". Throws InputError listing the valid names on an unknown one.
// The result is sorted by name, the canonical row order within a case.
std::vector<ImplChoice> select_impls(const std::vector<std::string>& names,
                                     const std::string& device, const DeviceInfo& gpu);

// The one judging step of `run` and `check`: o (and lse; nullptr when an external tool wrote
// none, whose lse metrics are then NaN) measured against the oracle under `policy`, the verdict,
// and for a failure the known defects that explain it (oracle/defects.h). Fills r's metrics,
// min_floor_ratio, verdict and diagnosis.
void judge_forward(const CaseSpec& c, const Inputs& in, const OracleResult& ref, const Tensor& o,
                   const std::vector<float>* lse, const Policy& policy,
                   std::optional<double> min_floor_ratio, Outcome& r);

// Runs one case through every chosen implementation. An implementation that throws yields an
// `error` row with its message. keep_arrays adds inputs, oracle and implementation outputs.
CaseRecord run_case(const CaseSpec& c, const std::vector<ImplChoice>& impls, bool keep_arrays);

}  // namespace sinkbench
