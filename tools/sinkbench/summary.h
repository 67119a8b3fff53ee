// tools/sinkbench/summary.h — what a run tells its user: a progress line on stderr while it runs
// (a heartbeat during long cases, an ETA weighted by each case's cost) and, at the end,
// pass/fail/skip/error per implementation and dtype with the worst case of each failure and the
// bound it failed. Implementations that cannot run here (CUDA without a GPU) get one line.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "reports/store/store.h"
#include "tools/sinkbench/runner.h"

namespace sinkbench {

struct Counts {
  int64_t pass = 0, fail = 0, skip = 0, error = 0;
  void add(const std::string& status);
  int64_t total() const { return pass + fail + skip + error; }
};

// One line per device and reason for the chosen implementations that cannot run on this machine
// (e.g. "21 cuda implementations skipped: no CUDA device: ..."), instead of a line each.
std::vector<std::string> unavailable_lines(const std::vector<ImplChoice>& impls);

class Summary {
 public:
  Summary() = default;
  // Rows of the implementations unavailable here are counted apart from the totals and shown
  // as one line per reason.
  explicit Summary(const std::vector<ImplChoice>& impls);
  void add(const CaseRecord& rec);
  // Results of the implementations that could run here.
  const Counts& totals() const { return totals_; }
  int64_t cases() const { return cases_; }
  bool failed() const { return totals_.fail + totals_.error > 0; }
  // The table, the failures and the errors, as printed at the end of a run.
  std::string render() const;
  // "N results (pass .., fail .., skip .., error ..)" and the rows stored as skip because their
  // implementation could not run here.
  std::string totals_text() const;

 private:
  std::map<std::string, std::string> unavailable_;  // impl -> reason
  int64_t unavailable_rows_ = 0;
  std::vector<std::string> unavailable_lines_;
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

// What a case costs to run, in FLOPs: 4·D per visible (query, key) pair and head (the FLOP model),
// plus 4·D per row of q, k and v per head, since every input element is generated, read and
// judged whatever the mask lets through (a window decode over a 64k cache costs its cache).
double case_cost(const CaseSpec& c);

// Seconds a run still needs. Case time is modelled as a + b * cost (case_cost), fitted by least
// squares to the finished cases (b alone, through the origin, while they do not tell a and b
// apart), applied to the cases left, less what the running case has already spent. NaN before any
// case finished.
class EtaModel {
 public:
  void add(double cost, double seconds);
  double seconds_left(int64_t cases_left, double cost_left, double running_for) const;

 private:
  double n_ = 0, c_ = 0, t_ = 0, cc_ = 0, ct_ = 0;
};

// One updating line on a terminal, a line at most every `heartbeat` seconds otherwise, with a
// heartbeat from a background thread while a case runs, so a long case never looks hung.
class Progress {
 public:
  // Shows one progress line.
  using Sink = std::function<void(const std::string& line)>;
  // total: planned cases; already_done: committed before; pending_cost: the summed cost of the
  // cases still to run. sink: empty for stderr.
  Progress(int64_t total, int64_t already_done, double pending_cost, bool tty,
           double heartbeat_seconds = 10, Sink sink = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // A case starts / the case begun last finished.
  void begin(const std::string& label, double cost);
  void end(const Summary& s);
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  std::string line_locked(Clock::time_point now) const;
  void show_locked(Clock::time_point now, bool force);
  void heartbeat_loop();

  const int64_t total_;
  int64_t done_;
  double cost_left_;
  const bool tty_;
  const double heartbeat_;
  Sink sink_;
  EtaModel eta_;
  Counts counts_;
  std::string label_;
  double cost_ = 0;
  bool running_ = false, stop_ = false;
  Clock::time_point start_, case_start_, last_print_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace sinkbench
