// bench/bench_paged_cuda.cpp — decode speed of flash_paged/cuda over a paged KV cache: bf16 KV,
// Sq 1, D 64, page 64, sinks band:4:8, judged against the device's measured copy bandwidth
// (bench/device_peaks.h, measured once before any benchmark):
//  - gpt-oss (Hq 64, Hkv 8), causal, batch 1/16/64 x context 1k/8k/32k/128k (the largest holds
//    16 GiB of KV); a shape whose KV does not fit sensibly on the device is skipped with the
//    reason printed;
//  - gpt-oss window-128 decode at batch 64, context 8k: the time of one layer's attention call
//    (target: at most 10 us per layer);
//  - one TP-8 shard of gpt-oss-120b (Hq 8, Hkv 1), causal, batch 1/16/64 x context 1k/8k/32k.
// Inputs are generated on the device. Each iteration flushes L2 outside the timed region and times
// the split and combine kernels with CUDA events; counters come from the median of 50 iterations.
// Bytes are the one model's (cases/flop_model.h) over the keys some row can see: K/V read once per
// KV head for every key of a causal decode and for the last 128 under the window; q, sinks, o, lse
// once.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/device_peaks.h"
#include "cases/flop_model.h"
#include "core/device.h"
#include "impls/cuda/cuda_util.h"
#include "impls/paged/cuda/flash_paged_cuda.h"

namespace sinkbench {
namespace {

// The one way a case reaches the device: K/V generated there (bitwise the host generator's) and
// scattered into the pages build_paged_kv would give, so a 16 GiB cache never crosses PCIe nor
// sits in host memory. 0 splits: the kernel's own heuristic.
flash_paged_cuda::DevicePagedCase make_device_case(const CaseSpec& c) {
  return flash_paged_cuda::DevicePagedCase(c, /*num_splits=*/0);
}

// Share of device memory the KV may take: building it holds the cache twice for a moment
// (packed as generated, then paged), and q, o, the split partials and the L2 flush buffer need
// room besides.
constexpr double kMaxKvShareOfDevice = 0.4;

// One per shape, in registration order; filled when its benchmark ran.
struct Row {
  std::string label;
  bool window = false;
  std::string skipped;  // the reason, when the shape is not run
  bool timed = false;
  double median_us = 0, gbs = 0;
  int splits = 0;
};
std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}

CaseSpec decode_shape(int batch, int64_t context, int heads_q, int heads_kv, bool window) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.mask.kind = window ? MaskKind::sliding_window : MaskKind::causal;
  c.mask.window = window ? 128 : 0;
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

std::string label_of(const CaseSpec& c) {
  return fmt::format("B{} L{} h{}/{}{}", c.batch, c.seqlen_k, c.heads_q, c.heads_kv,
                     c.mask.kind == MaskKind::sliding_window ? " win128" : "");
}

double kv_bytes(const CaseSpec& c) {
  return 2.0 * double(c.batch) * double(c.seqlen_k) * c.heads_kv * c.head_dim * dtype_size(c.dtype);
}

// Why a shape is not run, or "" to run it.
std::string skip_reason(const CaseSpec& c, const DeviceInfo& dev) {
  const double kv = kv_bytes(c), gib = double(int64_t(1) << 30);
  if (dev.present && kv > kMaxKvShareOfDevice * double(dev.mem_bytes))
    return fmt::format(
        "KV of {:.1f} GiB exceeds {:.0f}% of the device's {:.1f} GiB (built on the device it is "
        "held twice for a moment)",
        kv / gib, 100 * kMaxKvShareOfDevice, double(dev.mem_bytes) / gib);
  return "";
}

void bm_decode(benchmark::State& state, const CaseSpec& c) {
  const DeviceInfo dev = query_device();
  if (!dev.present) {
    state.SkipWithError(("no GPU: " + dev.reason).c_str());
    return;
  }
  flash_paged_cuda::DevicePagedCase dc = make_device_case(c);
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
  dc.fetch();  // every output written, guards intact (throws otherwise)
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  const double gbs = forward_bytes_visible_keys(c) / med * 1e-9;
  state.counters["median_us"] = med * 1e6;
  state.counters["GBps"] = gbs;
  state.counters["pct_copy_bw"] = percent_of(gbs, measure_device_peaks().copy_gbs);
  const std::string label = label_of(c);
  for (Row& r : rows()) {
    if (r.label != label) continue;
    r.timed = true;  // Google Benchmark may call this more than once: the last call stays
    r.median_us = med * 1e6;
    r.gbs = gbs;
    r.splits = dc.splits().front();
  }
}

std::vector<CaseSpec> shapes() {
  std::vector<CaseSpec> out;
  for (const int batch : {1, 16, 64})
    for (const int64_t context : {1024, 8192, 32768, 131072})
      out.push_back(decode_shape(batch, context, 64, 8, false));
  out.push_back(decode_shape(64, 8192, 64, 8, true));
  for (const int batch : {1, 16, 64})
    for (const int64_t context : {1024, 8192, 32768})
      out.push_back(decode_shape(batch, context, 8, 1, false));
  return out;
}

void register_all() {
  const DeviceInfo dev = query_device();
  for (const CaseSpec& c : shapes()) {
    const std::string why = skip_reason(c, dev);
    rows().push_back({label_of(c), c.mask.kind == MaskKind::sliding_window, why});
    if (!why.empty()) {
      std::printf("skip %s: %s\n", label_of(c).c_str(), why.c_str());
      continue;
    }
    benchmark::RegisterBenchmark(
        fmt::format("flash_paged_cuda/B{}/L{}/h{}_{}{}", c.batch, c.seqlen_k, c.heads_q, c.heads_kv,
                    c.mask.kind == MaskKind::sliding_window ? "/win128" : "")
            .c_str(),
        [c](benchmark::State& st) { bm_decode(st, c); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->Iterations(50);  // one call: each call builds its cache anew
  }
}

void print_row(const Row& r, const DevicePeaks& peaks) {
  if (!r.skipped.empty())
    std::printf("| %s | - | - | - | skipped: %s |\n", r.label.c_str(), r.skipped.c_str());
  else if (!r.timed)
    std::printf("| %s | - | - | - | not run (filtered out, or failed: see above) |\n",
                r.label.c_str());
  else
    std::printf("| %s | %d | %.1f | %.0f | %s |\n", r.label.c_str(), r.splits, r.median_us, r.gbs,
                percent_text(percent_of(r.gbs, peaks.copy_gbs)).c_str());
}

void print_tables() {
  const DevicePeaks& peaks = measure_device_peaks();
  std::printf("\n# flash_paged/cuda decode, bf16 KV, Sq 1, D 64, page 64, sinks band:4:8, %s\n",
              describe_device(query_device()).c_str());
  std::printf("# measured peaks: %s\n", describe_peaks(peaks).c_str());
  std::printf("# inputs: generated and paged on the device\n");
  std::printf(
      "| shape (h = Hq/Hkv), causal | splits | median us | GB/s | %% of copy bw |\n"
      "| --- | --- | --- | --- | --- |\n");
  for (const Row& r : rows())
    if (!r.window) print_row(r, peaks);
  std::printf(
      "\n# window-128 decode: one layer's attention call (target <= 10 us per layer); GB/s over "
      "the 128 visible keys per sequence\n"
      "| shape | splits | us per layer | GB/s | %% of copy bw |\n"
      "| --- | --- | --- | --- | --- |\n");
  for (const Row& r : rows())
    if (r.window) print_row(r, peaks);
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
