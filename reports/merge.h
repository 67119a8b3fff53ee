// reports/merge.h — joins results files of shards of one sweep into one file, in canonical
// row order (cases by id, results by case id then implementation), identical to one run.
#pragma once

#include <string>
#include <vector>

namespace sinkbench {

// Refuses (InputError naming the file and versions) inputs of another schema or policy version,
// unreadable or incomplete inputs, and a case present in two inputs. Writes `out` atomically
// (a temporary name renamed when complete); inputs are never modified.
void merge_runs(const std::vector<std::string>& inputs, const std::string& out,
                const std::string& command_line);

}  // namespace sinkbench
