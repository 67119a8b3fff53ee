// tools/sinkbench/bench.cpp — `sinkbench bench`. Google Benchmark sizes the iteration count and
// writes the optional JSON; a reporter of ours collects each run's statistics (the benchmark
// body stores the median, min and max of its iterations as counters) into the `bench` table.
// When GPU rows are timed, the device's copy bandwidth and GEMM rate are measured once first
// (bench/device_peaks.h) and every GPU row carries its share of them. Implementations that offer
// Impl::prepare set up once per benchmark (TimedForward); L2 is flushed before each GPU run,
// outside the timed region.
#include "tools/sinkbench/bench.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "bench/device_peaks.h"
#include "cases/flop_model.h"
#include "core/device.h"
#include "core/error.h"
#include "reports/store/bench_table.h"
#include "reports/store/provenance.h"
#include "tools/sinkbench/output_path.h"
#include "tools/sinkbench/runner.h"
#include "tools/sinkbench/summary.h"
#include "tools/sinkbench/sweep.h"

#ifdef SINKBENCH_HAVE_CUDA
#include "impls/cuda/cuda_util.h"
#endif

namespace sinkbench {
namespace {

namespace fs = std::filesystem;

// One benchmark: a case x an implementation that supports it.
struct Job {
  const CaseSpec* c = nullptr;
  const Impl* impl = nullptr;
  BenchOutcome out;
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

// Evicts L2 before each GPU run so an iteration does not start with the previous one's outputs
// and inputs cached. Outside the timed region: the run's own time starts later, at its kernel.
// Nothing to do for CPU rows.
class L2Eviction {
 public:
  void before_forward(const Impl& impl) {
#ifdef SINKBENCH_HAVE_CUDA
    if (impl.device() != Device::cuda) return;
    if (!flusher_) flusher_.emplace();  // 2 x L2 bytes, allocated at the first GPU row
    flusher_->flush();
#endif
  }

 private:
#ifdef SINKBENCH_HAVE_CUDA
  std::optional<cuda::L2Flusher> flusher_;
#endif
};

// The TimedForward of the benchmark now running, kept across the body's calls (Google Benchmark
// calls it again to size the iteration count and for each repetition) and replaced when the next
// benchmark starts: a prepared pass holds its case on the device, so one lives at a time.
class CurrentForward {
 public:
  TimedForward& get(const Job& job, const Inputs& in, L2Eviction& l2) {
    if (&job == job_) return *forward_;
    forward_.reset();  // the previous benchmark's device buffers go before the next allocates
    job_ = nullptr;
    const Impl* impl = job.impl;
    forward_ = std::make_unique<TimedForward>(*impl, *job.c, in,
                                              [&l2, impl] { l2.before_forward(*impl); });
    job_ = &job;
    return *forward_;
  }

 private:
  const Job* job_ = nullptr;
  std::unique_ptr<TimedForward> forward_;
};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The timed loop. Each iteration's time is TimedForward::iterate's. The outputs are checked once
// after the loop: the guards of the prepared path are read back outside the timed iterations.
void bench_body(benchmark::State& state, Job& job, InputCache& cache, CurrentForward& current,
                L2Eviction& l2) {
  try {
    TimedForward& forward = current.get(job, cache.get(*job.c), l2);
    std::vector<double> times;
    for (auto _ : state) {
      const double t = forward.iterate();
      state.SetIterationTime(t);
      times.push_back(t);
    }
    forward.check();
    const double med = median_of(times);
    state.counters["median_s"] = med;
    state.counters["min_s"] = *std::min_element(times.begin(), times.end());
    state.counters["max_s"] = *std::max_element(times.begin(), times.end());
    state.counters["TFLOP/s"] = job.out.flops / med * 1e-12;
    state.counters["GB/s"] = job.out.bytes / med * 1e-9;
    if (std::isfinite(job.out.peak_tflops)) {  // GPU rows with measured peaks only
      state.counters["% GEMM peak"] = percent_of(job.out.flops / med * 1e-12, job.out.peak_tflops);
      state.counters["% copy bw"] = percent_of(job.out.bytes / med * 1e-9, job.out.peak_gbs);
    }
  } catch (const std::exception& e) {
    job.error = e.what();  // kept here: Google Benchmark renamed Run::error_occurred in 1.8
    state.SkipWithError(e.what());
  }
}

// Collects the iteration runs (not the aggregates) into the jobs and shows progress on stderr,
// with an ETA from the benchmarks done so far weighted by each one's cost (case_cost): a
// benchmark costs a fixed part (warm-up, sizing, --min-time) plus a part that grows with the case.
class Collector : public benchmark::BenchmarkReporter {
 public:
  Collector(std::map<std::string, Job*> jobs, size_t total)
      : jobs_(std::move(jobs)), total_(total), last_(std::chrono::steady_clock::now()) {
    for (const auto& [name, job] : jobs_)
      cost_left_ += case_cost(*job->c);
  }
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
  // Called once per benchmark, at its first reported run: feeds the ETA model.
  std::string finished(const Job& job) {
    const auto now = std::chrono::steady_clock::now();
    const double cost = case_cost(*job.c);
    eta_.add(cost, std::chrono::duration<double>(now - last_).count());
    last_ = now;
    cost_left_ = std::max(0.0, cost_left_ - cost);
    ++done_;
    const double left = eta_.seconds_left(int64_t(total_ - done_), cost_left_, 0);
    const int64_t t = std::isfinite(left) ? int64_t(left + 0.5) : -1;
    return t < 0 ? "ETA ?" : fmt::format("ETA {}:{:02}", t / 60, t % 60);
  }

  void add(Job& job, const Run& run) {
    BenchOutcome& o = job.out;
    if (!job.error.empty() || run.counters.count("median_s") == 0) {
      o.status = "error";
      o.reason = job.error.empty() ? "no timing recorded" : job.error;
      const std::string eta = finished(job);
      std::fprintf(stderr, "[%zu/%zu] %s %s: error: %s | %s\n", done_, total_, o.case_id.c_str(),
                   o.impl.c_str(), o.reason.c_str(), eta.c_str());
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
    const std::string eta = first ? finished(job) : "";
    std::fprintf(stderr, "[%zu/%zu] %-34s %-40s %10.4f ms %9.4g TFLOP/s %9.4g GB/s | %s\n", done_,
                 total_, o.impl.c_str(), o.label.c_str(), counter("median_s") * 1e3,
                 counter("TFLOP/s"), counter("GB/s"), eta.c_str());
  }

  std::map<std::string, Job*> jobs_;
  size_t total_, done_ = 0;
  EtaModel eta_;
  double cost_left_ = 0;
  std::chrono::steady_clock::time_point last_;
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
  prepare_output_path(flag, path);  // a read-only directory fails here, before any timing
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

// The peaks GPU rows are judged against: measured once, before any benchmark allocates, when a
// GPU row will be timed; otherwise unmeasured with the reason. CPU rows get no percentage: no
// CPU ceiling is measured (a GEMM and copy peak of the host would need a BLAS and a NUMA-aware
// copy this tool does not have), and the GPU's would mean nothing for them.
DevicePeaks peaks_for_run(const std::vector<std::unique_ptr<Job>>& jobs, const DeviceInfo& gpu) {
  const bool gpu_rows = std::any_of(jobs.begin(), jobs.end(), [](const auto& j) {
    return j->out.status == "ok" && j->impl->device() == Device::cuda;
  });
#ifdef SINKBENCH_HAVE_CUDA
  if (!gpu_rows) return unmeasured_peaks("no GPU row timed in this run");
  if (!gpu.present) return unmeasured_peaks("no GPU: " + gpu.reason);
  std::fprintf(stderr, "sinkbench: bench: measuring the copy bandwidth and bf16 GEMM rate of %s\n",
               gpu.name.c_str());
  DevicePeaks p = measure_device_peaks();
  std::fprintf(stderr, "sinkbench: bench: peaks: %s\n", describe_peaks(p).c_str());
  return p;
#else
  (void)gpu_rows;
  return unmeasured_peaks("built without CUDA");
#endif
}

// The peaks in Google Benchmark's JSON context (strings there), next to the file's attributes.
void add_peaks_to_json_context(const DevicePeaks& p) {
  benchmark::AddCustomContext("sinkbench_peaks", describe_peaks(p));
  if (!p.measured) return;
  benchmark::AddCustomContext("sinkbench_peak_copy_gbs", fmt::format("{:.6g}", p.copy_gbs));
  benchmark::AddCustomContext("sinkbench_peak_copy_buffer_bytes", std::to_string(p.copy_bytes));
  benchmark::AddCustomContext("sinkbench_peak_gemm_tflops", fmt::format("{:.6g}", p.gemm_tflops));
  benchmark::AddCustomContext("sinkbench_peak_gemm_mnk",
                              fmt::format("{}x{}x{}", p.gemm_m, p.gemm_n, p.gemm_k));
}

Attributes bench_attributes(const BenchOptions& opt, const Suite& suite, const DeviceInfo& gpu,
                            const std::vector<ImplChoice>& impls, const DevicePeaks& peaks) {
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
  const Attributes peak = peak_attributes(peaks);
  a.insert(a.end(), peak.begin(), peak.end());
  return a;
}

void print_table(const Table& t, const DevicePeaks& peaks) {
  std::printf("peaks: %s\n", describe_peaks(peaks).c_str());
  std::printf("%-18s %-34s %-40s %8s %11s %11s %11s %9s %9s %7s %7s\n", "case", "impl", "label",
              "iters", "median ms", "min ms", "max ms", "TFLOP/s", "GB/s", "%gemm", "%copy");
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const BenchOutcome b = bench_outcome(t, r);
    if (b.status != "ok") {
      std::printf("%-18s %-34s %-40s %s: %s\n", b.case_id.c_str(), b.impl.c_str(), b.label.c_str(),
                  b.status.c_str(), b.reason.c_str());
      continue;
    }
    std::printf("%-18s %-34s %-40s %8lld %11.4f %11.4f %11.4f %9.4g %9.4g %7s %7s\n",
                b.case_id.c_str(), b.impl.c_str(), b.label.c_str(), (long long)b.iterations,
                b.median_s * 1e3, b.min_s * 1e3, b.max_s * 1e3, t.number(r, "tflops"),
                t.number(r, "gbs"), percent_text(t.number(r, "pct_gemm_peak")).c_str(),
                percent_text(t.number(r, "pct_copy_bw")).c_str());
  }
}

struct Measured {
  Table table;
  DevicePeaks peaks;
  bool failed = false;
};

// Runs the benchmarks and writes opt.out; returns the table, the peaks and whether any forward
// failed.
Measured measure(const BenchOptions& opt) {
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
  for (const std::string& line : unavailable_lines(impls))
    std::fprintf(stderr, "sinkbench: bench: %s\n", line.c_str());
  std::vector<std::unique_ptr<Job>> jobs;
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
        if (ch.available)  // the unavailable ones get one line for all, below
          std::fprintf(stderr, "sinkbench: bench: skip %s %s: %s\n", job->out.case_id.c_str(),
                       job->out.impl.c_str(), s.reason.c_str());
      }
      jobs.push_back(std::move(job));
    }
  }

  const DevicePeaks peaks = peaks_for_run(jobs, gpu);
  add_peaks_to_json_context(peaks);
  std::map<std::string, Job*> timed;
  InputCache cache;
  L2Eviction l2;
  CurrentForward current;
  for (const auto& job : jobs) {
    if (job->out.status != "ok") continue;
    if (job->impl->device() == Device::cuda && peaks.measured) {
      job->out.peak_tflops = peaks.gemm_tflops;
      job->out.peak_gbs = peaks.copy_gbs;
    }
    const std::string name = job->out.case_id + "/" + job->out.impl;
    Job* j = job.get();
    benchmark::RegisterBenchmark(name.c_str(),
                                 [j, &cache, &current, &l2](benchmark::State& st) {
                                   bench_body(st, *j, cache, current, l2);
                                 })
        ->UseManualTime()
        ->MinTime(opt.min_time)
        ->Repetitions(opt.repetitions)
        ->Unit(benchmark::kMillisecond);
    timed[name] = j;
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
  write_table_file(opt.out, bench_attributes(opt, suite, gpu, impls, peaks), "bench", table);
  return {std::move(table), peaks, failed};
}

}  // namespace

TimedForward::TimedForward(const Impl& impl, const CaseSpec& c, const Inputs& in,
                           std::function<void()> before_each)
    : impl_(impl),
      case_(c),
      in_(in),
      before_each_(std::move(before_each)),
      prepared_(impl.prepare(c, in)) {
  forward_once();
}

double TimedForward::iterate() {
  if (before_each_) before_each_();
  const auto t0 = std::chrono::steady_clock::now();
  const double own = forward_once();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return own > 0 ? own : wall;
}

void TimedForward::check() {
  if (prepared_) prepared_->fetch();
}

double TimedForward::forward_once() {
  if (prepared_) return prepared_->run();
  return impl_.forward(case_, in_).seconds;
}

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
    Measured m = measure(opt);
    now = std::move(m.table);
    failed = m.failed;
    print_table(now, m.peaks);
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
