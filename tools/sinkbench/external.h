// tools/sinkbench/external.h — `sinkbench export` and `sinkbench check`: external
// implementations (PyTorch, Triton, anything) join through an HDF5 exchange file
// (docs/external.md) and are judged by the same oracle, measure/judge and policy as built-in
// ones.
#pragma once

#include <string>
#include <vector>

#include "cases/case_spec.h"

namespace sinkbench {

struct ExportOptions {
  std::string suite = "smoke";
  std::string filter;
  std::string out = "external.h5";
  std::string command_line;
};

// Writes the suite's cases (narrowed by the filter) with their inputs. Returns 0; throws
// InputError (exit 2) on a bad suite, filter or output path.
int run_export(const ExportOptions& opt);

struct CheckOptions {
  std::string input;  // the filled exchange file
  std::string out = "external_results.h5";
  std::vector<std::string> impls;  // output groups to judge; empty: all
  int threads = 0;                 // OpenMP threads for the oracle; 0: default
  std::string command_line;
};

// Judges every output group of the file and writes a results file (device "external").
// Returns 0 when every result passed, 1 on any failure or error; throws InputError (exit 2)
// when the file is unreadable, not an exchange file, holds no outputs, or its inputs do not
// match what its specs generate (a tampered file).
int run_check(const CheckOptions& opt);

// The CaseSpec whose canonical() is `text`; throws InputError naming `where` and the field.
CaseSpec parse_canonical(const std::string& text, const std::string& where);

}  // namespace sinkbench
