// reports/store/merge.h — joins results files into one, in canonical row order (cases by id,
// results by case id then implementation): shards of one sweep (identical to one run), or runs of
// other implementations over the same cases (ours beside external ones from `sinkbench check`).
#pragma once

#include <string>
#include <vector>

namespace sinkbench {

// Refuses (InputError naming the file and versions) inputs of another schema or policy version,
// unreadable or incomplete inputs, one case id with two different specs, and one (case,
// implementation) result in two inputs. A case in several inputs keeps the first input's case
// row and arrays. Writes `out` atomically (a temporary name renamed when complete); inputs are
// never modified.
void merge_runs(const std::vector<std::string>& inputs, const std::string& out,
                const std::string& command_line);

}  // namespace sinkbench
