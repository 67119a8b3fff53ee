// tools/findings/grad_calibrate.cpp — the calibration of the gradient policy (docs/policy.md,
// "Calibration"; tools layer): every CPU implementation with a backward pass, on every backward
// case of the smoke suite, over a range of fresh seeds (case seed = 7000000 + k), judged exactly
// as `sinkbench run` judges it (oracle/grad_judge.h). Prints a Markdown table of the largest
// budget each gradient used per implementation, the judged runs and the failures, each failure
// with its case, seed and verdict; exits 1 on any failure.
//
// Jobs run (seed, case) items on std::threads; each job keeps OpenMP (the oracle's and the CPU
// references' parallel loops, Eigen's GEMMs) to its own thread, so N jobs use N cores.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cases/suite.h"
#include "impls/impl.h"
#include "impls/tiled/tiled.h"
#include "oracle/grad_judge.h"

namespace sinkbench {
namespace {

constexpr uint64_t kSeedBase = 7000000;  // case seed of seed index k: kSeedBase + k
constexpr const char* kPlantedName = "tiled/cpu+dq_unscaled";

const char* const kUsage =
    R"(usage: grad_calibrate --seeds FIRST..LAST [--jobs N] [--plant]

Runs every CPU implementation with a backward pass on every backward case (grad: do) of the smoke
suite, for seed indices FIRST..LAST inclusive (each case's seed set to 7000000 + k), judges the
gradients against the FP64 backward oracle and the gradient policy as `sinkbench run` does, and
prints a Markdown table: per implementation the judged runs, the failures and the largest budget
each gradient (dq, dk, dv, dsinks) used; then where each gradient's largest budget was, and every
failure with its case, seed and verdict. Progress goes to stderr.

  --seeds FIRST..LAST  seed indices, 0 <= FIRST <= LAST (e.g. 0..999 for 1000 seeds)
  --jobs N             (seed, case) items run at once, one core each (default: the cores here)
  --plant              also run tiled/cpu with dq missing the softmax scale, a planted bug that
                       must fail (shows that the tool reports failures)
  --help               this text

Exit: 0 every judged backward passed, 1 some failed or threw, 2 bad arguments.
)";

struct Options {
  int64_t first = 0, last = -1;
  int jobs = 0;
  bool plant = false;
};

[[noreturn]] void bad_argument(const std::string& what) {
  fmt::print(stderr, "grad_calibrate: {}\n(grad_calibrate --help for usage)\n", what);
  std::exit(2);
}

int64_t parse_count(const std::string& text, const char* flag) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    bad_argument(fmt::format("{}: expected a non-negative integer, got '{}'", flag, text));
  return std::stoll(text);
}

Options parse(int argc, char** argv) {
  Options o;
  bool have_seeds = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) bad_argument(a + ": missing its value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else if (a == "--seeds") {
      const std::string v = value();
      const size_t dots = v.find("..");
      if (dots == std::string::npos)
        bad_argument(fmt::format("--seeds: expected FIRST..LAST (e.g. 0..999), got '{}'", v));
      o.first = parse_count(v.substr(0, dots), "--seeds FIRST");
      o.last = parse_count(v.substr(dots + 2), "--seeds LAST");
      if (o.last < o.first)
        bad_argument(fmt::format("--seeds: LAST ({}) is below FIRST ({})", o.last, o.first));
      have_seeds = true;
    } else if (a == "--jobs") {
      o.jobs = int(parse_count(value(), "--jobs"));
      if (o.jobs < 1) bad_argument("--jobs: expected at least 1");
    } else if (a == "--plant") {
      o.plant = true;
    } else {
      bad_argument(fmt::format("unknown argument '{}'", a));
    }
  }
  if (!have_seeds) bad_argument("--seeds FIRST..LAST is required");
  if (o.jobs == 0) o.jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  return o;
}

// One implementation's record over every judged backward.
struct Tally {
  int64_t judged = 0, failed = 0;
  double budget[4] = {};
  std::string where[4];  // case and seed of each largest budget
};

// An implementation under its name in the table (the planted bug has its own).
struct Runner {
  std::string name;
  const Impl* impl;
};

struct Failure {
  std::string impl, label, id;
  uint64_t seed;
  std::string detail;
};

class Calibration {
 public:
  Calibration(std::vector<CaseSpec> cases, std::vector<Runner> impls, const Options& o)
      : cases_(std::move(cases)), impls_(std::move(impls)), opt_(o) {}

  void run() {
    const int64_t items = (opt_.last - opt_.first + 1) * int64_t(cases_.size());
    std::vector<std::thread> workers;
    for (int j = 0; j < std::min<int64_t>(opt_.jobs, items); ++j)
      workers.emplace_back([this, items] { work(items); });
    for (auto& w : workers)
      w.join();
  }

  int report() const {
    int64_t judged = 0, failed = 0;
    for (const auto& [name, t] : tally_) {
      judged += t.judged;
      failed += t.failed;
    }
    fmt::print(
        "Seeds {}..{} (case seed = {} + k), {} backward cases of smoke, {} jobs: {} judged "
        "backward runs, {} failures, {:.0f} s.\n\n| implementation | judged | failures |",
        opt_.first, opt_.last, kSeedBase, cases_.size(), opt_.jobs, judged, failed, elapsed());
    for (Grad g : kGrads)
      fmt::print(" {} |", grad_name(g));
    fmt::print("\n| --- | --: | --: |");
    for (size_t k = 0; k < std::size(kGrads); ++k)
      fmt::print(" --: |");
    fmt::print("\n");
    for (const auto& [name, t] : tally_) {
      fmt::print("| {} | {} | {} |", name, t.judged, t.failed);
      for (double b : t.budget)
        fmt::print(" {:.4f} |", b);
      fmt::print("\n");
    }
    fmt::print("\nLargest budget per gradient, and where:\n\n");
    for (Grad g : kGrads) {
      const size_t k = size_t(g);
      const auto it = std::max_element(tally_.begin(), tally_.end(), [k](auto& a, auto& b) {
        return a.second.budget[k] < b.second.budget[k];
      });
      if (it != tally_.end())
        fmt::print("- {}: {:.4f}, {} on {}\n", grad_name(g), it->second.budget[k], it->first,
                   it->second.where[k]);
    }
    if (!failures_.empty()) fmt::print("\nFailures ({}):\n\n", failures_.size());
    for (const Failure& f : failures_)
      fmt::print("- FAIL {} on {} ({}) seed {}: {}\n", f.impl, f.label, f.id, f.seed, f.detail);
    return failures_.empty() ? 0 : 1;
  }

 private:
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  // Takes (seed, case) items until none is left.
  void work(int64_t items) {
    omp_set_num_threads(1);  // this thread's OpenMP regions: one thread, so N jobs use N cores
    for (int64_t i; (i = next_++) < items;) {
      CaseSpec c = cases_[size_t(i % int64_t(cases_.size()))];
      c.seed = kSeedBase + uint64_t(opt_.first + i / int64_t(cases_.size()));
      judge_case(c);
      progress(items);
    }
  }

  void judge_case(const CaseSpec& c) {
    const GradSetup s(c);
    for (const auto& [name, impl] : impls_) {
      if (!impl->supports(c).ok || !impl->supports_backward(c).ok) continue;
      try {
        const BackwardResult b = impl->backward(c, s.in, impl->forward(c, s.in), s.g);
        record(name, c, judge_gradients(c, s.in.layout, s.ref, b.dq, b.dk, b.dv, b.dsinks));
      } catch (const std::exception& e) {
        record_failure(name, c, std::string("threw: ") + e.what());
      }
    }
  }

  void record(const std::string& impl, const CaseSpec& c, const GradJudged& j) {
    std::lock_guard<std::mutex> lock(mu_);
    Tally& t = tally_[impl];
    ++t.judged;
    for (Grad g : kGrads) {
      const size_t k = size_t(g);
      const double b = j.metrics.of(g).budget;
      if (b > t.budget[k]) {  // NaN never: a NaN gradient is a failure, listed below
        t.budget[k] = b;
        t.where[k] = fmt::format("{}, seed {}", case_label(c), c.seed);
      }
    }
    if (j.verdict.status != Status::pass) {
      ++t.failed;
      failures_.push_back({impl, case_label(c), case_id(c), c.seed, grad_summary(j)});
    }
  }

  void record_failure(const std::string& impl, const CaseSpec& c, const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    Tally& t = tally_[impl];
    ++t.judged;
    ++t.failed;
    failures_.push_back({impl, case_label(c), case_id(c), c.seed, why});
  }

  // A line every few seconds and at the end: long runs show their pace without flooding.
  void progress(int64_t items) {
    const int64_t done = ++done_;
    std::lock_guard<std::mutex> lock(mu_);
    const double s = elapsed();
    if (done != items && s < last_progress_ + 5) return;
    last_progress_ = s;
    fmt::print(stderr,
               "grad_calibrate: {}/{} cases ({:.1f} seeds), {} failures, {:.0f} s, ETA {:.0f} s\n",
               done, items, double(done) / double(cases_.size()), failures_.size(), s,
               s / double(done) * double(items - done));
  }

 private:
  std::vector<CaseSpec> cases_;
  std::vector<Runner> impls_;
  Options opt_;
  std::atomic<int64_t> next_{0}, done_{0};
  std::mutex mu_;
  std::map<std::string, Tally> tally_;
  std::vector<Failure> failures_;
  double last_progress_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace
}  // namespace sinkbench

int main(int argc, char** argv) {
  using namespace sinkbench;
  const Options opt = parse(argc, argv);
  try {
    std::vector<CaseSpec> cases;
    for (const CaseSpec& c : load_suite("smoke").cases)
      if (c.has_grad()) cases.push_back(c);
    std::vector<Runner> impls;
    std::vector<std::string> names;
    for (const auto& impl : all_impls())
      if (impl->device() == Device::cpu &&
          std::any_of(cases.begin(), cases.end(),
                      [&](const CaseSpec& c) { return impl->supports_backward(c).ok; })) {
        impls.push_back({impl->name(), impl.get()});
        names.push_back(impl->name());
      }
    TiledOptions bug;
    bug.grad_faults.dq_unscaled = true;
    const std::unique_ptr<Impl> planted = opt.plant ? make_tiled_cpu(bug) : nullptr;
    if (planted) {
      impls.push_back({kPlantedName, planted.get()});
      names.push_back(kPlantedName);
    }
    fmt::print(stderr, "grad_calibrate: {} backward cases of smoke x {}; seeds {}..{}, {} jobs\n",
               cases.size(), fmt::join(names, ", "), opt.first, opt.last, opt.jobs);
    Calibration cal(std::move(cases), std::move(impls), opt);
    cal.run();
    return cal.report();
  } catch (const std::exception& e) {
    fmt::print(stderr, "grad_calibrate: {}\n", e.what());
    return 2;
  }
}
