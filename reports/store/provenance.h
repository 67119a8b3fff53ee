// reports/store/provenance.h — where and how a run was made: the root attributes of a results file.
#pragma once

#include <string>

#include "core/device.h"
#include "reports/store/store.h"

namespace sinkbench {

// Tool version, git sha and dirty flag (read now with git, falling back to the configure-time
// sha), compiler and flags, CUDA runtime/driver, GPU, CPU model, host, command line, policy and
// schema versions, start time.
Attributes provenance(const std::string& command_line, const DeviceInfo& gpu);
// UTC time as "2026-11-23T10:42:07Z".
std::string utc_now();

}  // namespace sinkbench
