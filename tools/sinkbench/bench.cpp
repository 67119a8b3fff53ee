// tools/sinkbench/bench.cpp — `sinkbench bench`. Google Benchmark sizes the iteration count and
// writes the optional JSON; a reporter of ours collects each run's statistics (the benchmark
// body stores the median, min and max of its iterations as counters) into the `bench` table.
#include "tools/sinkbench/bench.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "bench/flop_model.h"
#include "core/device.h"
#include "core/error.h"
#include "reports/bench_table.h"
#include "reports/provenance.h"
#include "tools/sinkbench/runner.h"
#include "tools/sinkbench/sweep.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;

// One benchmark: a case x an implementation that supports it.
struct Job {
  const CaseSpec* c = nullptr;
  const Impl* impl = nullptr;
  BenchOutcome out;
  bool warmed = false;
  std::vector<double> medians;  // one per repetition
  std::string error;            // what the forward threw, if it did
};

// Inputs of the case being timed. Benchmarks run in registration order, case-major, so each
// case's inputs are generated once and freed when the next case starts.
class InputCache {
 public:
  const Inputs& get(const CaseSpec& c) {
    const std::string id = case_id(c);
    if (id != id_) {
      in_.reset();
      in_ = std::make_unique<Inputs>(generate(c));
      id_ = id;
    }
    return *in_;
  }

 private:
  std::string id_;
  std::unique_ptr<Inputs> in_;
};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The timed loop. Each iteration's time is the implementation's own ForwardResult::seconds
// (device time on GPUs, the forward proper on the CPU); host wall time only where it reports 0.
void bench_body(benchmark::State& state, Job& job, InputCache& cache) {
  try {
    const Inputs& in = cache.get(*job.c);
    if (!job.warmed) {
      job.impl->forward(*job.c, in);  // untimed warm-up: first touch, module load, caches
      job.warmed = true;
    }
    std::vector<double> times;
    for (auto _ : state) {
      const auto t0 = std::chrono::steady_clock::now();
      const ForwardResult r = job.impl->forward(*job.c, in);
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double t = r.seconds > 0 ? r.seconds : wall;
      state.SetIterationTime(t);
      times.push_back(t);
    }
    const double med = median_of(times);
    state.counters["median_s"] = med;
    state.counters["min_s"] = *std::min_element(times.begin(), times.end());
    state.counters["max_s"] = *std::max_element(times.begin(), times.end());
    state.counters["TFLOP/s"] = job.out.flops / med * 1e-12;
    state.counters["GB/s"] = job.out.bytes / med * 1e-9;
  } catch (const std::exception& e) {
    job.error = e.what();  // kept here: Google Benchmark renamed Run::error_occurred in 1.8
    state.SkipWithError(e.what());
  }
}

// Collects the iteration runs (not the aggregates) into the jobs and shows progress on stderr.
class Collector : public benchmark::BenchmarkReporter {
 public:
  Collector(std::map<std::string, Job*> jobs, size_t total)
      : jobs_(std::move(jobs)), total_(total) {}
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;
      const auto it = jobs_.find(run.run_name.function_name);
      if (it == jobs_.end()) continue;
      add(*it->second, run);
    }
  }

 private:
  void add(Job& job, const Run& run) {
    BenchOutcome& o = job.out;
    if (!job.error.empty() || run.counters.count("median_s") == 0) {
      o.status = "error";
      o.reason = job.error.empty() ? "no timing recorded" : job.error;
      std::fprintf(stderr, "sinkbench: bench: %s %s: error: %s\n", o.case_id.c_str(),
                   o.impl.c_str(), o.reason.c_str());
      return;
    }
    auto counter = [&](const char* name) { return double(run.counters.at(name)); };
    const bool first = o.repetitions == 0;
    o.repetitions += 1;
    o.iterations += run.iterations;
    o.min_s = first ? counter("min_s") : std::min(o.min_s, counter("min_s"));
    o.max_s = first ? counter("max_s") : std::max(o.max_s, counter("max_s"));
    job.medians.push_back(counter("median_s"));
    o.median_s = median_of(job.medians);
    if (first) ++done_;
    std::fprintf(stderr, "[%zu/%zu] %-34s %-40s %10.4f ms %9.4g TFLOP/s %9.4g GB/s\n", done_,
                 total_, o.impl.c_str(), o.label.c_str(), counter("median_s") * 1e3,
                 counter("TFLOP/s"), counter("GB/s"));
  }

  std::map<std::string, Job*> jobs_;
  size_t total_, done_ = 0;
};

BenchOutcome outcome_of(const CaseSpec& c, const Impl& impl) {
  BenchOutcome o;
  o.case_id = case_id(c);
  o.label = case_label(c);
  o.impl = impl.name();
  o.device = std::string(device_name(impl.device()));
  o.flops = forward_flops(c);
  o.bytes = forward_bytes(c);
  return o;
}

void check_output_dir(const std::string& flag, const std::string& path) {
  const fs::path dir = fs::absolute(path).parent_path();
  if (!fs::is_directory(dir))
    throw InputError(flag + " " + path, "directory " + dir.string() + " does not exist",
                     "a path in an existing, writable directory");
}

// Passes --benchmark_out to Google Benchmark when --json is set; it writes that file itself.
// The library keeps argv[0] (it names the executable in the JSON), so the strings are static.
void init_google_benchmark(const BenchOptions& opt) {
  static std::vector<std::string> args;
  args = {"sinkbench bench"};
  if (!opt.json.empty()) {
    args.push_back("--benchmark_out=" + opt.json);
    args.push_back("--benchmark_out_format=json");
  }
  static std::vector<char*> argv;
  argv.clear();
  for (auto& a : args)
    argv.push_back(a.data());
  int argc = int(argv.size());
  benchmark::Initialize(&argc, argv.data());
}

Attributes bench_attributes(const BenchOptions& opt, const Suite& suite, const DeviceInfo& gpu,
                            const std::vector<ImplChoice>& impls) {
  Attributes a = provenance(opt.command_line, gpu);
  std::vector<std::string> names;
  for (const ImplChoice& ch : impls)
    names.push_back(ch.impl->name());
  const Attributes more = {{"file_kind", std::string(kBenchFileKind)},
                           {"bench_schema_version", kBenchSchemaVersion},
                           {"suite", suite.name},
                           {"suite_file", suite.file},
                           {"filter", opt.filter},
                           {"device", opt.device},
                           {"impls", fmt::format("{}", fmt::join(names, ","))},
                           {"min_time_s", opt.min_time},
                           {"repetitions", int64_t(opt.repetitions)},
                           {"omp_threads", int64_t(omp_get_max_threads())},
                           {"benchmark_library", std::string("Google Benchmark")},
                           {"end_time", utc_now()},
                           {"complete", int64_t(1)}};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

void print_table(const Table& t) {
  std::printf("%-18s %-34s %-40s %8s %11s %11s %11s %9s %9s\n", "case", "impl", "label", "iters",
              "median ms", "min ms", "max ms", "TFLOP/s", "GB/s");
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const BenchOutcome b = bench_outcome(t, r);
    if (b.status != "ok") {
      std::printf("%-18s %-34s %-40s %s: %s\n", b.case_id.c_str(), b.impl.c_str(), b.label.c_str(),
                  b.status.c_str(), b.reason.c_str());
      continue;
    }
    std::printf("%-18s %-34s %-40s %8lld %11.4f %11.4f %11.4f %9.4g %9.4g\n", b.case_id.c_str(),
                b.impl.c_str(), b.label.c_str(), (long long)b.iterations, b.median_s * 1e3,
                b.min_s * 1e3, b.max_s * 1e3, t.number(r, "tflops"), t.number(r, "gbs"));
  }
}

// Runs the benchmarks and writes opt.out; returns the table and whether any forward failed.
std::pair<Table, bool> measure(const BenchOptions& opt) {
  const Suite suite = load_suite(opt.suite);
  const DeviceInfo gpu = query_device();
  const std::vector<ImplChoice> impls = select_impls(opt.impls, opt.device, gpu);
  const std::vector<CaseSpec> cases = planned_cases(suite, Filter::parse(opt.filter), Shard{});
  if (cases.empty())
    throw InputError("--filter",
                     "no case of suite '" + suite.name + "' matches '" + opt.filter + "'",
                     "a filter selecting at least one case");
  check_output_dir("-o", opt.out);
  if (!opt.json.empty()) check_output_dir("--json", opt.json);
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  init_google_benchmark(opt);

  // Every case x implementation gets a job; unsupported pairs stay as skip rows with the reason.
  std::vector<std::unique_ptr<Job>> jobs;
  std::map<std::string, Job*> timed;
  InputCache cache;
  for (const CaseSpec& c : cases) {
    for (const ImplChoice& ch : impls) {
      auto job = std::make_unique<Job>();
      job->c = &c;
      job->impl = ch.impl;
      job->out = outcome_of(c, *ch.impl);
      const Support s = ch.available ? ch.impl->supports(c) : Support::no(ch.reason);
      if (!s.ok) {
        job->out.status = "skip";
        job->out.reason = s.reason;
        std::fprintf(stderr, "sinkbench: bench: skip %s %s: %s\n", job->out.case_id.c_str(),
                     job->out.impl.c_str(), s.reason.c_str());
      } else {
        const std::string name = job->out.case_id + "/" + job->out.impl;
        Job* j = job.get();
        benchmark::RegisterBenchmark(
            name.c_str(), [j, &cache](benchmark::State& st) { bench_body(st, *j, cache); })
            ->UseManualTime()
            ->MinTime(opt.min_time)
            ->Repetitions(opt.repetitions)
            ->Unit(benchmark::kMillisecond);
        timed[name] = j;
      }
      jobs.push_back(std::move(job));
    }
  }
  Collector collector(timed, timed.size());
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();

  Table table{bench_columns(), {}};
  bool failed = false;
  for (const auto& job : jobs) {
    if (job->out.status == "ok" && job->out.repetitions == 0) {
      job->out.status = "error";  // registered but never reported: say so rather than drop it
      job->out.reason = "no timing was reported";
    }
    failed = failed || job->out.status == "error";
    table.rows.push_back(bench_row(job->out));
  }
  write_table_file(opt.out, bench_attributes(opt, suite, gpu, impls), "bench", table);
  return {std::move(table), failed};
}

}  // namespace

int run_bench(const BenchOptions& opt) {
  if (!(opt.min_time > 0)) throw InputError("--min-time", "must be positive", "seconds > 0");
  if (opt.repetitions < 1) throw InputError("--repetitions", "must be at least 1", "N >= 1");
  if (!(opt.tolerance >= 0 && opt.tolerance < 1))
    throw InputError("--tolerance", "must be in [0, 1)", "a relative change, e.g. 0.05");
  if (!opt.results.empty() && opt.compare.empty())
    throw InputError("--results", "given without --compare", "--compare BASE.h5 with --results");
  // The base is read before any timing: a bad base fails in a second, not after the run.
  const std::optional<StoredTable> base =
      opt.compare.empty() ? std::nullopt : std::optional(read_bench_file(opt.compare));

  Table now;
  bool failed = false;
  std::string now_path = opt.results;
  if (opt.results.empty()) {
    std::tie(now, failed) = measure(opt);
    print_table(now);
    std::printf("%s: %zu rows\n", opt.out.c_str(), now.rows.size());
    now_path = opt.out;
  } else {
    now = read_bench_file(opt.results).table;
  }
  if (!base) return failed ? 1 : 0;
  const BenchComparison cmp = compare_bench(base->table, now, opt.tolerance);
  std::printf("%s", render_comparison(cmp, opt.compare, now_path, opt.tolerance).c_str());
  return failed || cmp.count(Change::slower) > 0 ? 1 : 0;
}

}  // namespace sinkbench
