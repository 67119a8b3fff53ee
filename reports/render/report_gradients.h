// reports/render/report_gradients.h — the gradients section of the report (reports layer):
// backward verdicts, a pass matrix per gradient, error against the rounding floor by key length per
// gradient, and the worst gradient results, in report.md and on the page. Both are empty when no
// result has a judged backward.
#pragma once

#include <string>
#include <vector>

#include "reports/store/store.h"

namespace sinkbench {

// runs[i] was read from the file shown as tags[i]; `worst` rows in the worst-cases table.
std::string gradients_md(const std::vector<StoredRun>& runs, const std::vector<std::string>& tags,
                         int worst);

// The page's part: the section's skeleton, which report.js fills from the embedded result rows.
// It names the gradients (oracle/oracle_bwd.h's kGrads, in order) in data-grads, so the page reads
// the columns "<gradient>_<metric>" by the names the results table declares.
std::string gradients_html(const std::vector<StoredRun>& runs, const std::vector<std::string>& tags,
                           int worst);

}  // namespace sinkbench
