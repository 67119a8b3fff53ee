// tools/sinkbench/summary.h — what a run tells its user: a progress line on stderr while it runs
// and, at the end, pass/fail/skip/error per implementation and dtype with the worst case of each
// failure and the bound it failed.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "reports/store.h"

namespace sinkbench {

struct Counts {
  int64_t pass = 0, fail = 0, skip = 0, error = 0;
  void add(const std::string& status);
  int64_t total() const { return pass + fail + skip + error; }
};

class Summary {
 public:
  void add(const CaseRecord& rec);
  const Counts& totals() const { return totals_; }
  int64_t cases() const { return cases_; }
  bool failed() const { return totals_.fail + totals_.error > 0; }
  // The table, the failures and the errors, as printed at the end of a run.
  std::string render() const;

 private:
  struct Worst {
    int64_t count = 0;
    double severity = -1;
    std::string case_id, label, detail;
  };
  int64_t cases_ = 0;
  Counts totals_;
  std::map<std::pair<std::string, std::string>, Counts> by_impl_dtype_;
  std::map<std::pair<std::string, std::string>, Worst> failures_;  // (impl, bound)
  std::map<std::string, Worst> errors_;                            // impl
};

// One updating line on a terminal; a line every few seconds otherwise.
class Progress {
 public:
  Progress(int64_t total, int64_t already_done, bool tty);
  void update(const Summary& s, const std::string& label);
  void finish();

 private:
  int64_t total_, done_before_, done_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace sinkbench
