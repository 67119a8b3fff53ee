// tools/sinkbench/sweep.h — `sinkbench run`: plans the cases of a suite (filter, shard), resumes
// an interrupted run, runs each case, appends it to the results file and its journal, shows
// progress and prints the summary.
#pragma once

#include <string>
#include <vector>

#include "cases/suite.h"

namespace sinkbench {

struct RunOptions {
  std::string suite = "smoke";
  std::vector<std::string> impls;  // empty: every registered implementation
  std::string device = "all";      // cpu, cuda or all
  std::string filter;
  std::string out = "results.h5";
  bool keep_arrays = false;
  bool resume = false;
  std::string shard;  // "i/n" (0 <= i < n) or empty
  int threads = 0;    // OpenMP threads; 0: the OpenMP default
  std::string command_line;
};

struct Shard {
  int index = 0;
  int count = 1;
};
// Parses "i/n"; throws InputError naming --shard.
Shard parse_shard(const std::string& text);
// Deterministic partition: the case id (a 64-bit hash) modulo n.
bool in_shard(const std::string& case_id, const Shard& s);
// The cases a run covers, in canonical order (by case id).
std::vector<CaseSpec> planned_cases(const Suite& suite, const Filter& filter, const Shard& shard);

// Paths next to the output: the journal that commits each case, and the folder of each
// committed case's arrays (--keep-arrays).
std::string journal_path(const std::string& out);
std::string arrays_dir(const std::string& out);
std::string case_arrays_path(const std::string& out, const std::string& case_id);

// Exit code: 0 every result passed (or skipped), 1 a failure or error. Throws InputError on bad
// input (exit 2), before any compute where the input can be checked up front.
int run_sweep(const RunOptions& opt);

}  // namespace sinkbench
