// tools/sinkbench/summary.cpp — progress line and end-of-run summary.
#include "tools/sinkbench/summary.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "oracle/defects.h"
#include "reports/table.h"

namespace sinkbench {
namespace {

std::string cell(const Row& row, const std::string& column) {
  static const Table t{result_columns(), {}};
  return to_text(row[t.index(column)]);
}
double number(const Row& row, const std::string& column) {
  static const Table t{result_columns(), {}};
  const Value& v = row[t.index(column)];
  return std::holds_alternative<double>(v) ? std::get<double>(v) : double(std::get<int64_t>(v));
}

// How bad a failure is, comparable among failures of the same bound.
double severity(const Row& row, const std::string& bound) {
  if (bound == "o_bound") return number(row, "o_budget");
  if (bound == "lse_bound") return number(row, "lse_budget");
  if (bound == "nan") return number(row, "nan_count");
  if (bound == "inf") return number(row, "inf_count");
  if (bound == "lse_nan") return number(row, "lse_nan_count");
  if (bound == "floor_ratio_min") return -number(row, "floor_ratio");
  return 0;
}

// The verdict's sentence, and for a failure the defect models that explain it.
std::string with_diagnosis(const Row& row) {
  const std::string d = diagnosis_line(cell(row, "diagnosis"));
  return d.empty() ? cell(row, "detail") : cell(row, "detail") + "; " + d;
}

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = int64_t(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}:{:02}", t / 60, t % 60);
}

}  // namespace

void Counts::add(const std::string& status) {
  if (status == "pass")
    ++pass;
  else if (status == "fail")
    ++fail;
  else if (status == "skip")
    ++skip;
  else
    ++error;
}

void Summary::add(const CaseRecord& rec) {
  ++cases_;
  static const Table ct{case_columns(), {}};
  const std::string label = to_text(rec.case_row[ct.index("label")]);
  for (const Row& row : rec.results) {
    const std::string impl = cell(row, "impl"), status = cell(row, "status");
    totals_.add(status);
    by_impl_dtype_[{impl, cell(row, "dtype")}].add(status);
    Worst* w = nullptr;
    double sev = 0;
    if (status == "fail") {
      w = &failures_[{impl, cell(row, "bound")}];
      sev = severity(row, cell(row, "bound"));
    } else if (status == "error") {
      w = &errors_[impl];
    }
    if (!w) continue;
    ++w->count;
    if (w->count == 1 || sev > w->severity)
      *w = {w->count, sev, rec.id(), label, with_diagnosis(row)};
  }
}

std::string Summary::render() const {
  std::string out;
  if (by_impl_dtype_.empty()) {
    out +=
        "no implementation ran: none is registered for the chosen devices (see `sinkbench list "
        "impls`); only the cases table was written\n";
  } else {
    out += fmt::format("{:<34} {:<5} {:>6} {:>6} {:>6} {:>6}\n", "implementation", "dtype", "pass",
                       "fail", "skip", "error");
    for (const auto& [key, c] : by_impl_dtype_)
      out += fmt::format("{:<34} {:<5} {:>6} {:>6} {:>6} {:>6}\n", key.first, key.second, c.pass,
                         c.fail, c.skip, c.error);
  }
  if (!failures_.empty()) out += "\nfailures (worst case of each implementation and bound):\n";
  for (const auto& [key, w] : failures_)
    out += fmt::format("  {} failed {} in {} case(s); worst {} [{}]: {}\n", key.first, key.second,
                       w.count, w.case_id, w.label, w.detail);
  if (!errors_.empty()) out += "\nerrors:\n";
  for (const auto& [impl, w] : errors_)
    out += fmt::format("  {} raised an error in {} case(s); first {} [{}]: {}\n", impl, w.count,
                       w.case_id, w.label, w.detail);
  return out;
}

Progress::Progress(int64_t total, int64_t already_done, bool tty)
    : total_(total),
      done_before_(already_done),
      tty_(tty),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void Progress::update(const Summary& s, const std::string& label) {
  ++done_;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t done = done_before_ + done_;
  const double eta = elapsed / double(done_) * double(total_ - done);
  const Counts& c = s.totals();
  const std::string line =
      fmt::format("[{}/{}] pass {} fail {} skip {} error {} | {} elapsed, ETA {} | {}", done,
                  total_, c.pass, c.fail, c.skip, c.error, duration(elapsed), duration(eta), label);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else if (std::chrono::duration<double>(now - last_print_).count() >= 5 || done == total_) {
    std::fprintf(stderr, "%s\n", line.c_str());
    last_print_ = now;
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace sinkbench
