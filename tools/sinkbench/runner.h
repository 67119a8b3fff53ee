// tools/sinkbench/runner.h — the per-case pipeline of `sinkbench run` (DESIGN §2): generate ->
// oracle -> for each implementation: supports()? forward -> measure -> judge : skip with reason.
#pragma once

#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "core/device.h"
#include "impls/impl.h"
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

// Runs one case through every chosen implementation. An implementation that throws yields an
// `error` row with its message. keep_arrays adds inputs, oracle and implementation outputs.
CaseRecord run_case(const CaseSpec& c, const std::vector<ImplChoice>& impls, bool keep_arrays);

}  // namespace sinkbench
