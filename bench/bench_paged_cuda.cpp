// bench/bench_paged_cuda.cpp — decode speed of flash_paged/cuda over a paged KV cache: bf16,
// causal, Sq 1, D 64, page 64, the gpt-oss GQA group (8 query heads per KV head) at batch
// 1/16/64 and contexts 1k..32k. Each iteration flushes L2 outside the timed region and times the
// split and combine kernels with CUDA events; counters come from the median of 50 iterations. Bytes
// are the one model's (bench/flop_model.h): K/V read once per KV head, q, sinks, o, lse once.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/flop_model.h"
#include "cases/generate.h"
#include "core/device.h"
#include "impls/cuda/cuda_util.h"
#include "impls/paged/cuda/flash_paged_cuda.h"
#include "impls/paged/paged.h"

namespace sinkbench {
namespace {

struct Row {
  std::string label;
  double median_us, gbs;
  int splits;
};
std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}

CaseSpec decode_shape(int batch, int64_t context, int heads_q, int heads_kv) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.mask.kind = MaskKind::causal;
  c.batch = batch;
  c.seqlen_q = 1;
  c.seqlen_k = context;
  c.heads_q = heads_q;
  c.heads_kv = heads_kv;
  c.head_dim = 64;
  c.page_size = 64;
  c.seed = 20261123;
  return c;
}

void bm_decode(benchmark::State& state, const CaseSpec& c) {
  const DeviceInfo dev = query_device();
  if (!dev.present) {
    state.SkipWithError(("no GPU: " + dev.reason).c_str());
    return;
  }
  const Inputs in = generate(c);
  const PagedKV kv = build_paged_kv(c, in);
  flash_paged_cuda::DevicePagedCase dc(c, in, kv);
  cuda::L2Flusher flusher;
  for (int i = 0; i < 3; ++i)
    dc.run();  // warm-up: module load, first touch
  std::vector<double> times;
  for (auto _ : state) {
    flusher.flush();
    const double t = dc.run();
    state.SetIterationTime(t);
    times.push_back(t);
  }
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  const double gbs = forward_bytes(c) / med * 1e-9;
  state.counters["median_us"] = med * 1e6;
  state.counters["GBps"] = gbs;
  const std::string label =
      fmt::format("B{} L{} h{}/{}", c.batch, c.seqlen_k, c.heads_q, c.heads_kv);
  std::erase_if(rows(), [&](const Row& r) { return r.label == label; });
  rows().push_back({label, med * 1e6, gbs, dc.splits().front()});
}

void register_all() {
  for (const int batch : {1, 16, 64})
    for (const int64_t context : {1024, 8192, 32768})
      for (const auto& [hq, hkv] : {std::pair{64, 8}, std::pair{8, 1}}) {
        const CaseSpec c = decode_shape(batch, context, hq, hkv);
        benchmark::RegisterBenchmark(
            fmt::format("flash_paged_cuda/B{}/L{}/h{}_{}", batch, context, hq, hkv).c_str(),
            [c](benchmark::State& st) { bm_decode(st, c); })
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond)
            ->Iterations(50);  // one call: inputs for 32k contexts take seconds to generate
      }
}

}  // namespace
}  // namespace sinkbench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  sinkbench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\n# flash_paged/cuda decode, bf16, causal, Sq 1, D 64, page 64, %s\n",
              sinkbench::describe_device(sinkbench::query_device()).c_str());
  std::printf("| shape | splits | median us | GB/s |\n| --- | --- | --- | --- |\n");
  for (const auto& r : sinkbench::rows())
    std::printf("| %s | %d | %.1f | %.0f |\n", r.label.c_str(), r.splits, r.median_us, r.gbs);
  return 0;
}
