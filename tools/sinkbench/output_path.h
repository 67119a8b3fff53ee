// tools/sinkbench/output_path.h — the one check every command makes on a file it is about to
// write (`run -o`, `bench -o/--json`, `golden update`): its directory is created when missing
// (as `report -o` does) and must be writable, so a read-only place fails before any work.
#pragma once

#include <string>

namespace sinkbench {

// Throws InputError (exit 2) naming `flag`, the path and why (e.g. "Read-only file system").
void prepare_output_path(const std::string& flag, const std::string& path);

}  // namespace sinkbench
