// bench/bench_tiled_bwd_cuda.cpp — backward speed of tiled/cuda on gpt-oss shapes (bf16, Hq 64,
// Hkv 8, sinks band:4:8): the targets (B = 1, D 64, causal at S = 4096, 8192, 16384;
// sliding window 128 at S = 8192), D 128 causal, and the sink's cost (the same case run with and
// without its sink, no dsinks kernel and the forward's lse without the sink, in alternating
// iterations so that clock drift falls on both alike). The forward runs once on the
// device (tiled/cuda's own), do comes from the device generator; each iteration flushes L2
// (outside the timed region), then times the backward kernels alone with CUDA events; the
// median iteration is reported. FLOPs = 2.5 x the forward's visible-pair count
// (cases/flop_model.h backward_flops), the same for sink on and off.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "cases/flop_model.h"
#include "core/device.h"
#include "impls/cuda/cuda_util.h"
#include "impls/tiled/cuda/tiled_bwd_case.h"

namespace sinkbench {
namespace {

struct Shape {
  int head_dim;
  int64_t s;
  bool window;
  bool sink = true;  // false: the same case run without its sink
  std::string label() const {
    return fmt::format("B1 S{} {} d{}{}", s, window ? "win128" : "causal", head_dim,
                       sink ? "" : " no-sink");
  }
};

struct Row {
  Shape shape;
  double median_ms, tflops;
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
  c.mask.kind = sh.window ? MaskKind::sliding_window : MaskKind::causal;
  c.mask.window = sh.window ? 128 : 0;
  c.seed = 20261127;  // sink on and off share the case, hence the inputs
  return c;
}

void bm_backward(benchmark::State& state, const Shape& sh) {
  const DeviceInfo dev = query_device();
  if (!dev.present) {
    state.SkipWithError(("no GPU: " + dev.reason).c_str());
    return;
  }
  const CaseSpec c = case_of(sh);
  tiled_cuda::BwdDeviceCase bc(c, sh.sink);
  cuda::L2Flusher flusher;
  for (int i = 0; i < 3; ++i)
    bc.run();  // warm-up: module load, first touch
  std::vector<double> times;
  for (auto _ : state) {
    flusher.flush();
    const double t = bc.run();
    state.SetIterationTime(t);
    times.push_back(t);
  }
  bc.fetch();  // every gradient written, guards intact (throws otherwise)
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  const double tflops = backward_flops(c) / med * 1e-12;
  state.counters["median_ms"] = med * 1e3;
  state.counters["TFLOPs"] = tflops;
  const std::string label = sh.label();
  std::erase_if(rows(), [&](const Row& r) { return r.shape.label() == label; });
  rows().push_back({sh, med * 1e3, tflops});
}

std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (const int64_t s : {4096, 8192, 16384})
    out.push_back({64, s, false});
  out.push_back({64, 8192, true});
  for (const int64_t s : {4096, 8192})
    out.push_back({128, s, false});
  return out;
}

// Sink on vs off, alternating iterations: the median of each.
struct CostRow {
  Shape shape;
  double on_ms, off_ms;
};
std::vector<CostRow>& cost_rows() {
  static std::vector<CostRow> r;
  return r;
}

void bm_sink_cost(benchmark::State& state, const Shape& sh) {
  const DeviceInfo dev = query_device();
  if (!dev.present) {
    state.SkipWithError(("no GPU: " + dev.reason).c_str());
    return;
  }
  const CaseSpec c = case_of(sh);
  tiled_cuda::BwdDeviceCase on(c, true), off(c, false);
  cuda::L2Flusher flusher;
  for (int i = 0; i < 3; ++i) {
    on.run();
    off.run();
  }
  std::vector<double> t_on, t_off;
  for (auto _ : state) {
    flusher.flush();
    const double a = on.run();
    flusher.flush();
    const double b = off.run();
    state.SetIterationTime(a + b);
    t_on.push_back(a);
    t_off.push_back(b);
  }
  on.fetch();
  off.fetch();
  std::sort(t_on.begin(), t_on.end());
  std::sort(t_off.begin(), t_off.end());
  const double a = t_on[t_on.size() / 2] * 1e3, b = t_off[t_off.size() / 2] * 1e3;
  state.counters["on_ms"] = a;
  state.counters["off_ms"] = b;
  const std::string label = sh.label();
  std::erase_if(cost_rows(), [&](const CostRow& r) { return r.shape.label() == label; });
  cost_rows().push_back({sh, a, b});
}

void register_all() {
  for (const bool w : {false, true}) {
    const Shape sh{64, 8192, w};
    benchmark::RegisterBenchmark(
        fmt::format("tiled_cuda_bwd/d64/S8192/{}/sink_on_vs_off", w ? "win128" : "causal").c_str(),
        [sh](benchmark::State& st) { bm_sink_cost(st, sh); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(1.0);
  }
  for (const Shape& sh : shapes()) {
    benchmark::RegisterBenchmark(
        fmt::format("tiled_cuda_bwd/d{}/S{}/{}{}", sh.head_dim, sh.s,
                    sh.window ? "win128" : "causal", sh.sink ? "" : "/no_sink")
            .c_str(),
        [sh](benchmark::State& st) { bm_backward(st, sh); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.3);
  }
}

void print_tables() {
  std::printf("\n# tiled/cuda backward, bf16, Hq 64 / Hkv 8, sinks band:4:8, %s\n",
              describe_device(query_device()).c_str());
  std::printf("| shape | median ms | TFLOP/s (2.5 x forward) |\n| --- | --- | --- |\n");
  for (const Row& r : rows())
    std::printf("| %s | %.3f | %.1f |\n", r.shape.label().c_str(), r.median_ms, r.tflops);
  std::printf(
      "\n# sink on vs off (same case and inputs, alternating iterations; cost = on / off - 1)\n"
      "| shape | sink on ms | sink off ms | cost |\n| --- | --- | --- | --- |\n");
  for (const CostRow& r : cost_rows())
    std::printf("| %s | %.3f | %.3f | %+.1f%% |\n", r.shape.label().c_str(), r.on_ms, r.off_ms,
                100.0 * (r.on_ms / r.off_ms - 1));
}

}  // namespace
}  // namespace sinkbench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  sinkbench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  sinkbench::print_tables();
  return 0;
}
