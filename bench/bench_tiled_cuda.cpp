// bench/bench_tiled_cuda.cpp — forward speed of tiled/cuda on gpt-oss shapes (Hq 64, Hkv 8,
// D 64; S 1k/4k/16k, causal and sliding window 128; batch sized to 32k tokens so every shape
// fills the GPU; the same at D 128). Inputs are generated on the device. Each iteration flushes
// L2 (outside the timed region), then times the kernel alone with CUDA events; the counters
// come from the median iteration. FLOPs count visible (i, j) pairs only: 4 * D * pairs. Bytes
// count q, k, v read once and o, lse written once. A table of all rows is printed last.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/flop_model.h"
#include "cases/case_spec.h"
#include "core/device.h"
#include "impls/cuda/cuda_util.h"
#include "impls/tiled/cuda/tiled_cuda.h"

namespace sinkbench {
namespace {

struct Row {
  std::string label;
  double median_ms, tflops, gbs;
  bool window;
};
std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}

CaseSpec shape(int head_dim, int64_t s, bool window) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.heads_q = 64;
  c.heads_kv = 8;
  c.head_dim = head_dim;
  c.seqlen_q = c.seqlen_k = s;
  c.batch = int(std::max<int64_t>(1, 32768 / s));
  c.mask.kind = window ? MaskKind::sliding_window : MaskKind::causal;
  c.mask.window = window ? 128 : 0;
  c.seed = 20261123;
  return c;
}

void bm_forward(benchmark::State& state, int head_dim, int64_t s, bool window) {
  const DeviceInfo dev = query_device();
  if (!dev.present) {
    state.SkipWithError(("no GPU: " + dev.reason).c_str());
    return;
  }
  const CaseSpec c = shape(head_dim, s, window);
  tiled_cuda::DeviceCase dc(c);
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
  const double flops = forward_flops(c);  // one model: bench/flop_model.h
  const double bytes = forward_bytes(c);
  state.counters["median_ms"] = med * 1e3;
  state.counters["TFLOPs"] = flops / med * 1e-12;
  state.counters["GBps"] = bytes / med * 1e-9;
  // Google Benchmark may call this more than once (it sizes the iteration count): keep the last.
  const std::string label =
      fmt::format("B{} S{} {} d{}", c.batch, s, window ? "win128" : "causal", head_dim);
  std::erase_if(rows(), [&](const Row& r) { return r.label == label; });
  rows().push_back({label, med * 1e3, flops / med * 1e-12, bytes / med * 1e-9, window});
}

void register_all() {
  for (const int d : {64, 128}) {
    for (const int64_t s : {1024, 4096, 16384}) {
      for (const bool w : {false, true}) {
        benchmark::RegisterBenchmark(
            fmt::format("tiled_cuda/d{}/S{}/{}", d, s, w ? "win128" : "causal").c_str(),
            [=](benchmark::State& st) { bm_forward(st, d, s, w); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(0.5);
      }
    }
  }
}

}  // namespace
}  // namespace sinkbench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  sinkbench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\n# tiled/cuda forward, bf16, Hq 64 / Hkv 8, %s\n",
              sinkbench::describe_device(sinkbench::query_device()).c_str());
  std::printf("| shape | median ms | TFLOP/s | GB/s |\n| --- | --- | --- | --- |\n");
  for (const auto& r : sinkbench::rows())
    std::printf("| %s | %.3f | %.1f | %s |\n", r.label.c_str(), r.median_ms, r.tflops,
                r.window ? fmt::format("{:.0f}", r.gbs).c_str() : "-");
  return 0;
}
