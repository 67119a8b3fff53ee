// tools/sinkbench/bench.h — `sinkbench bench`: forward speed of every chosen implementation on
// the cases of a suite through Google Benchmark (one benchmark per supported case x
// implementation, timed by the implementation's own seconds, CUDA events on GPUs, where an
// implementation offers Impl::prepare its inputs set up once and L2 flushed before each run),
// with GPU rows' share of the device's measured copy bandwidth and GEMM peak
// (bench/device_peaks.h; none for CPU rows), written as a `bench` table in HDF5 (docs/results.md,
// "Benchmarks"), optionally compared with a base file.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "impls/impl.h"

namespace sinkbench {

// One benchmark's forward pass, repeated. Where the implementation offers prepare(), its inputs
// are set up once, here, and an iteration is run() alone, so a cache flush before it leaves the
// kernels cold inputs and no upload is timed or repeated; otherwise an iteration is a whole
// forward(). The case and inputs must outlive it.
class TimedForward {
 public:
  // Prepares where offered, then one untimed warm-up (first touch, module load, caches).
  // before_each runs before each timed forward: the L2 flush of GPU rows.
  TimedForward(const Impl& impl, const CaseSpec& c, const Inputs& in,
               std::function<void()> before_each = {});
  // before_each, then one forward; its seconds: the implementation's own (device time on GPUs),
  // host wall time where it reports 0.
  double iterate();
  // The prepared pass's fetch(): throws where a guard was broken or an output left unwritten.
  // Nothing to do on the forward() path, which checks every call.
  void check();
  bool prepared() const { return prepared_ != nullptr; }

 private:
  double forward_once();

  const Impl& impl_;
  const CaseSpec& case_;
  const Inputs& in_;
  std::function<void()> before_each_;
  std::unique_ptr<PreparedForward> prepared_;
};

struct BenchOptions {
  std::string suite = "smoke";
  std::string filter;
  std::vector<std::string> impls;  // empty: every registered implementation
  std::string device = "all";      // cpu, cuda or all
  // Seconds of timed iterations per benchmark and repetition. The default times the smoke suite
  // in about a minute; medians of CPU prefill cases then rest on one or two iterations
  // (docs/results.md states the noise), so comparisons want 0.5 or more and --repetitions.
  double min_time = 0.02;
  int repetitions = 1;
  int threads = 0;  // OpenMP threads; 0: the OpenMP default
  std::string out = "bench.h5";
  std::string json;         // Google Benchmark JSON output, if set
  std::string compare;      // base bench file, if set
  std::string results;      // compare this bench file instead of running, if set
  double tolerance = 0.05;  // see judge_change (reports/store/bench_table.h)
  std::string command_line;
};

// Exit code: 0 done (and nothing slower than the base), 1 a forward failed or something is
// slower than the base. Throws InputError on bad input (exit 2) before any timing.
int run_bench(const BenchOptions& opt);

}  // namespace sinkbench
