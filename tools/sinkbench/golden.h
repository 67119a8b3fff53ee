// tools/sinkbench/golden.h — `sinkbench golden update`: regenerates a golden fixture by re-running
// its suite on the CPU implementations with every array kept, and records why, when and from
// which build in the file's attributes. Never silent: a reason is required.
#pragma once

#include <string>

namespace sinkbench {

struct GoldenOptions {
  std::string golden;  // the fixture to (re)write, e.g. cases/golden/smoke.h5
  std::string suite;   // empty: cases/suites/golden.yaml
  std::string why;     // required, recorded as golden_reason
  std::string command_line;
};

// The default golden fixture and its suite in the source tree.
std::string default_golden_path();
std::string default_golden_suite();

// Returns 0; throws InputError (exit 2) on an empty reason or an unusable suite or path. The new
// fixture replaces the old one only once complete (written next to it, then renamed).
int update_golden(const GoldenOptions& opt);

}  // namespace sinkbench
