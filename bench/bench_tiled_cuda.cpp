// bench/bench_tiled_cuda.cpp — forward speed of tiled/cuda on gpt-oss shapes (bf16, Hq 64,
// Hkv 8, sinks band:4:8), judged against the device's measured peaks (bench/device_peaks.h):
//  - the targets: B = 1, D 64, causal at S = 4096, 8192, 16384 (TFLOP/s, % of the bf16
//    GEMM peak) and sliding window 128 at S = 8192 (GB/s, % of the copy bandwidth);
//  - sink on vs off at B = 1, S = 8192, causal and window: the same case and inputs, the kernel
//    run without its sink (tiled_cuda::DeviceCase's use_sink = false), so the difference is what
//    the sink costs;
//  - 32k tokens per launch (batch = 32768 / S) at S 1k/4k/16k, causal and window 128, D 64 and
//    128: every shape fills the GPU.
// Inputs are generated on the device. Each iteration flushes L2 (outside the timed region), then
// times the kernel alone with CUDA events; the counters come from the median iteration. FLOPs
// count visible (i, j) pairs only: 4 * D * pairs; bytes count q, k, v read once and o, lse
// written once (cases/flop_model.h). The peaks are measured once, before any benchmark; the
// tables printed last show them, each row's share of the relevant one (GEMM peak for causal
// rows, copy bandwidth for window rows) and the sink's relative cost.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/device_peaks.h"
#include "cases/case_spec.h"
#include "cases/flop_model.h"
#include "core/device.h"
#include "impls/cuda/cuda_util.h"
#include "impls/tiled/cuda/tiled_cuda.h"

namespace sinkbench {
namespace {

struct Shape {
  int batch;
  int head_dim;
  int64_t s;
  bool window;
  bool sink = true;  // false: the same case run without its sink
  std::string label() const {
    return fmt::format("B{} S{} {} d{}{}", batch, s, window ? "win128" : "causal", head_dim,
                       sink ? "" : " no-sink");
  }
};

struct Row {
  Shape shape;
  double median_ms, tflops, gbs;
};
std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}

CaseSpec case_of(const Shape& sh) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.heads_q = 64;
  c.heads_kv = 8;
  c.head_dim = sh.head_dim;
  c.seqlen_q = c.seqlen_k = sh.s;
  c.batch = sh.batch;
  c.mask.kind = sh.window ? MaskKind::sliding_window : MaskKind::causal;
  c.mask.window = sh.window ? 128 : 0;
  c.seed = 20261123;  // sink on and off share the case, hence the inputs
  return c;
}

void bm_forward(benchmark::State& state, const Shape& sh) {
  const DeviceInfo dev = query_device();
  if (!dev.present) {
    state.SkipWithError(("no GPU: " + dev.reason).c_str());
    return;
  }
  const CaseSpec c = case_of(sh);
  tiled_cuda::DeviceCase dc(c, nullptr, sh.sink);
  cuda::L2Flusher flusher;
  for (int i = 0; i < 3; ++i)
    dc.run();  // warm-up: module load, first-touch
  std::vector<double> times;
  for (auto _ : state) {
    flusher.flush();
    const double t = dc.run();
    state.SetIterationTime(t);
    times.push_back(t);
  }
  dc.fetch();  // every output written, guards intact (throws otherwise)
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  // One model (cases/flop_model.h) for sink on and off: the sink adds one logit per row, not a
  // visible pair, so the work counted is the same and the times compare directly.
  const double tflops = forward_flops(c) / med * 1e-12;
  const double gbs = forward_bytes(c) / med * 1e-9;
  const DevicePeaks& peaks = measure_device_peaks();
  state.counters["median_ms"] = med * 1e3;
  state.counters["TFLOPs"] = tflops;
  state.counters["GBps"] = gbs;
  state.counters["pct_gemm_peak"] = percent_of(tflops, peaks.gemm_tflops);
  state.counters["pct_copy_bw"] = percent_of(gbs, peaks.copy_gbs);
  // Google Benchmark may call this more than once (it sizes the iteration count): keep the last.
  const std::string label = sh.label();
  std::erase_if(rows(), [&](const Row& r) { return r.shape.label() == label; });
  rows().push_back({sh, med * 1e3, tflops, gbs});
}

std::vector<Shape> shapes() {
  std::vector<Shape> out;
  // The targets first: B = 1, D 64.
  for (const int64_t s : {4096, 8192, 16384})
    out.push_back({1, 64, s, false});
  out.push_back({1, 64, 8192, true});
  for (const bool w : {false, true})
    out.push_back({1, 64, 8192, w, /*sink=*/false});
  // 32k tokens per launch.
  for (const int d : {64, 128})
    for (const int64_t s : {1024, 4096, 16384})
      for (const bool w : {false, true})
        out.push_back({int(32768 / s), d, s, w});
  return out;
}

void register_all() {
  for (const Shape& sh : shapes()) {
    benchmark::RegisterBenchmark(
        fmt::format("tiled_cuda/d{}/B{}/S{}/{}{}", sh.head_dim, sh.batch, sh.s,
                    sh.window ? "win128" : "causal", sh.sink ? "" : "/no_sink")
            .c_str(),
        [sh](benchmark::State& st) { bm_forward(st, sh); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.5);
  }
}

const Row* find_row(const Shape& sh) {
  const std::string label = sh.label();
  for (const Row& r : rows())
    if (r.shape.label() == label) return &r;
  return nullptr;
}

void print_tables() {
  const DevicePeaks& peaks = measure_device_peaks();
  std::printf("\n# tiled/cuda forward, bf16, Hq 64 / Hkv 8, sinks band:4:8, %s\n",
              describe_device(query_device()).c_str());
  std::printf("# measured peaks: %s\n", describe_peaks(peaks).c_str());
  std::printf(
      "| shape | median ms | TFLOP/s | %% of GEMM peak | GB/s | %% of copy bw |\n"
      "| --- | --- | --- | --- | --- | --- |\n");
  // Causal rows are judged by their rate against the GEMM peak, window rows by their traffic
  // against the copy bandwidth (DESIGN §7); the other figure is left out ("-").
  for (const Row& r : rows()) {
    const bool w = r.shape.window;
    std::printf("| %s | %.3f | %.1f | %s | %s | %s |\n", r.shape.label().c_str(), r.median_ms,
                r.tflops, w ? "-" : percent_text(percent_of(r.tflops, peaks.gemm_tflops)).c_str(),
                w ? fmt::format("{:.0f}", r.gbs).c_str() : "-",
                w ? percent_text(percent_of(r.gbs, peaks.copy_gbs)).c_str() : "-");
  }
  std::printf(
      "\n# sink on vs off (same case and inputs; cost = on / off - 1)\n"
      "| shape | sink on ms | sink off ms | cost |\n| --- | --- | --- | --- |\n");
  for (const Shape& off : shapes()) {
    if (off.sink) continue;
    Shape on = off;
    on.sink = true;
    const Row *a = find_row(on), *b = find_row(off);
    if (a == nullptr || b == nullptr) continue;  // filtered out or failed
    std::printf("| %s | %.3f | %.3f | %+.1f%% |\n", on.label().c_str(), a->median_ms, b->median_ms,
                100.0 * (a->median_ms / b->median_ms - 1));
  }
}

}  // namespace
}  // namespace sinkbench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Before any benchmark allocates: the measurement needs ~2.4 GiB for a moment.
  const sinkbench::DevicePeaks& peaks = sinkbench::measure_device_peaks();
  std::printf("measured peaks: %s\n", sinkbench::describe_peaks(peaks).c_str());
  sinkbench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  sinkbench::print_tables();
  return 0;
}
