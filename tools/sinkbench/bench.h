// tools/sinkbench/bench.h — `sinkbench bench`: forward speed of every chosen implementation on
// the cases of a suite through Google Benchmark (one benchmark per supported case x
// implementation, timed by the implementation's own ForwardResult::seconds, CUDA events on GPUs,
// L2 flushed before each GPU forward), with GPU rows' share of the device's measured copy
// bandwidth and GEMM peak (bench/device_peaks.h; none for CPU rows), written as a `bench` table
// in HDF5 (docs/results.md, "Benchmarks"), optionally compared with a base file.
#pragma once

#include <string>
#include <vector>

namespace sinkbench {

struct BenchOptions {
  std::string suite = "smoke";
  std::string filter;
  std::vector<std::string> impls;  // empty: every registered implementation
  std::string device = "all";      // cpu, cuda or all
  double min_time = 0.5;           // seconds of timed iterations per repetition
  int repetitions = 1;
  int threads = 0;  // OpenMP threads; 0: the OpenMP default
  std::string out = "bench.h5";
  std::string json;         // Google Benchmark JSON output, if set
  std::string compare;      // base bench file, if set
  std::string results;      // compare this bench file instead of running, if set
  double tolerance = 0.05;  // see judge_change (reports/bench_table.h)
  std::string command_line;
};

// Exit code: 0 done (and nothing slower than the base), 1 a forward failed or something is
// slower than the base. Throws InputError on bad input (exit 2) before any timing.
int run_bench(const BenchOptions& opt);

}  // namespace sinkbench
