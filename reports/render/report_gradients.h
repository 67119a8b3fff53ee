// reports/render/report_gradients.h — the gradients section of report.md (reports layer): backward
// verdicts, a pass matrix per gradient, error against the rounding floor by key length per
// gradient, and the worst gradient results. Empty when no result has a judged backward.
#pragma once

#include <string>
#include <vector>

#include "reports/store/store.h"

namespace sinkbench {

// runs[i] was read from the file shown as tags[i]; `worst` rows in the worst-cases table.
std::string gradients_md(const std::vector<StoredRun>& runs, const std::vector<std::string>& tags,
                         int worst);

}  // namespace sinkbench
