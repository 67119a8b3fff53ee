// tools/sinkbench/summary.cpp — progress line (heartbeat, cost-weighted ETA) and end-of-run
// summary.
#include "tools/sinkbench/summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cases/flop_model.h"
#include "oracle/defects.h"
#include "reports/store/table.h"

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

std::vector<std::string> unavailable_lines(const std::vector<ImplChoice>& impls) {
  std::map<std::pair<std::string, std::string>, int> by;  // (device, reason) -> implementations
  for (const ImplChoice& ch : impls)
    if (!ch.available) by[{std::string(device_name(ch.impl->device())), ch.reason}] += 1;
  std::vector<std::string> out;
  for (const auto& [key, n] : by)
    out.push_back(fmt::format("{} {} implementation{} skipped: {}", n, key.first, n == 1 ? "" : "s",
                              key.second));
  return out;
}

Summary::Summary(const std::vector<ImplChoice>& impls)
    : unavailable_lines_(unavailable_lines(impls)) {
  for (const ImplChoice& ch : impls)
    if (!ch.available) unavailable_[ch.impl->name()] = ch.reason;
}

void Summary::add(const CaseRecord& rec) {
  ++cases_;
  static const Table ct{case_columns(), {}};
  const std::string label = to_text(rec.case_row[ct.index("label")]);
  for (const Row& row : rec.results) {
    const std::string impl = cell(row, "impl"), status = cell(row, "status");
    if (unavailable_.count(impl)) {
      ++unavailable_rows_;
      continue;
    }
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
  if (by_impl_dtype_.empty() && !unavailable_.empty()) {
    out += "no implementation could run on this machine\n";
  } else if (by_impl_dtype_.empty()) {
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
  for (const std::string& line : unavailable_lines_)
    out += line + "\n";
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

std::string Summary::totals_text() const {
  const Counts& n = totals_;
  std::string s = fmt::format("{} results (pass {}, fail {}, skip {}, error {})", n.total(), n.pass,
                              n.fail, n.skip, n.error);
  if (unavailable_rows_ > 0)
    s += fmt::format(", and {} of {} implementation{} that cannot run here, stored as skip",
                     unavailable_rows_, unavailable_.size(), unavailable_.size() == 1 ? "" : "s");
  return s;
}

double case_cost(const CaseSpec& c) {
  const TrafficShape t = traffic_shape(c);
  const double rows = double(t.total_q * t.heads_q + 2 * t.total_k * t.heads_kv);
  return forward_flops(c) + 4.0 * double(t.head_dim) * rows;
}

void EtaModel::add(double cost, double seconds) {
  n_ += 1;
  c_ += cost;
  t_ += seconds;
  cc_ += cost * cost;
  ct_ += cost * seconds;
}

double EtaModel::seconds_left(int64_t cases_left, double cost_left, double running_for) const {
  if (n_ == 0) return NAN;
  double a = 0, b = c_ > 0 ? t_ / c_ : 0;
  const double det = n_ * cc_ - c_ * c_;
  if (n_ >= 2 && det > 1e-9 * n_ * cc_) {
    const double slope = (n_ * ct_ - c_ * t_) / det, intercept = (t_ - slope * c_) / n_;
    if (slope >= 0 && intercept >= 0) a = intercept, b = slope;
  }
  if (b == 0 && a == 0) a = t_ / n_;  // every finished case cost nothing: time per case
  return std::max(0.0, a * double(cases_left) + b * cost_left - running_for);
}

Progress::Progress(int64_t total, int64_t already_done, double pending_cost, bool tty,
                   double heartbeat_seconds, Sink sink)
    : total_(total),
      done_(already_done),
      cost_left_(pending_cost),
      tty_(tty),
      heartbeat_(heartbeat_seconds),
      sink_(std::move(sink)),
      start_(Clock::now()),
      case_start_(start_),
      last_print_(start_) {
  if (!sink_)
    sink_ = [tty](const std::string& line) {
      std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line.c_str());
      std::fflush(stderr);
    };
  thread_ = std::thread([this] { heartbeat_loop(); });
}

Progress::~Progress() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Progress::begin(const std::string& label, double cost) {
  std::lock_guard<std::mutex> lock(mu_);
  label_ = label;
  cost_ = cost;
  running_ = true;
  case_start_ = Clock::now();
}

void Progress::end(const Summary& s) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = Clock::now();
  eta_.add(cost_, std::chrono::duration<double>(now - case_start_).count());
  cost_left_ = std::max(0.0, cost_left_ - cost_);
  ++done_;
  running_ = false;
  counts_ = s.totals();
  show_locked(now, done_ == total_);
}

void Progress::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (tty_) std::fprintf(stderr, "\r\033[K");
}

std::string Progress::line_locked(Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double running_for =
      running_ ? std::chrono::duration<double>(now - case_start_).count() : 0;
  const int64_t cases_left = total_ - done_;
  const double eta = eta_.seconds_left(cases_left, cost_left_, running_for);
  std::string line = fmt::format("[{}/{}] pass {} fail {} skip {} error {} | {} elapsed, ETA {}",
                                 done_, total_, counts_.pass, counts_.fail, counts_.skip,
                                 counts_.error, duration(elapsed), duration(eta));
  if (running_) line += fmt::format(" | running {} for {}", label_, duration(running_for));
  return line;
}

// On a terminal the line is rewritten at every event; elsewhere at most once per heartbeat,
// except the last.
void Progress::show_locked(Clock::time_point now, bool force) {
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (!tty_ && !force && since < heartbeat_) return;
  sink_(line_locked(now));
  last_print_ = now;
}

void Progress::heartbeat_loop() {
  // A terminal's line ticks every second; a log gets a line per heartbeat while a case runs.
  const auto tick =
      std::chrono::duration<double>(tty_ ? std::min(1.0, heartbeat_) : heartbeat_ / 4);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, tick, [this] { return stop_; });
    if (stop_) break;
    const auto now = Clock::now();
    if (running_ && std::chrono::duration<double>(now - last_print_).count() >=
                        std::min(heartbeat_, tty_ ? 1.0 : heartbeat_))
      show_locked(now, true);
  }
}

}  // namespace sinkbench
