// tests/reports/bench_table_test.cpp — the peak columns and attributes of the `bench` table
// (reports/store/bench_table.h) on freshly seeded outcomes: percentages derived from TFLOP/s, GB/s
// and the row's peaks, pct_peak the larger of the two, NaN (never 0) for CPU rows and untimed rows,
// the peaks' provenance attributes present only when measured, and a file round trip that keeps
// NaNs and values.
#include "reports/store/bench_table.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "bench/device_peaks.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;

struct Drawn {
  BenchOutcome gpu, cpu, skipped;
  DevicePeaks peaks;
};

// A GPU row with measured peaks, a CPU row without, a skipped GPU row; values from the seed.
Drawn draw(std::mt19937_64& rng) {
  auto u = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  Drawn d;
  d.peaks.measured = true;
  d.peaks.device.name = "test GPU";
  d.peaks.device.sm_count = int(u(1, 200));
  d.peaks.copy_bytes = int64_t(1) << 30;
  d.peaks.copy_iterations = 25;
  d.peaks.copy_gbs = u(500, 5000);
  d.peaks.copy_median_s = 2.0 * double(d.peaks.copy_bytes) / d.peaks.copy_gbs * 1e-9;
  d.peaks.gemm_m = d.peaks.gemm_n = d.peaks.gemm_k = 8192;
  d.peaks.gemm_iterations = 20;
  d.peaks.gemm_tflops = u(100, 1500);
  d.peaks.gemm_median_s = 2.0 * 8192.0 * 8192.0 * 8192.0 / d.peaks.gemm_tflops * 1e-12;
  d.peaks.gemm_kind = "test GEMM";

  BenchOutcome base;
  base.case_id = "c0";
  base.label = "label";
  base.iterations = 10;
  base.repetitions = 1;
  base.median_s = u(1e-5, 1e-2);
  base.min_s = base.median_s * u(0.5, 1);
  base.max_s = base.median_s * u(1, 2);
  base.flops = u(1e6, 1e13);
  base.bytes = u(1e5, 1e10);
  d.gpu = base;
  d.gpu.impl = "tiled/cuda";
  d.gpu.device = "cuda";
  d.gpu.peak_tflops = d.peaks.gemm_tflops;
  d.gpu.peak_gbs = d.peaks.copy_gbs;
  d.cpu = base;
  d.cpu.impl = "tiled/cpu";
  d.cpu.device = "cpu";
  d.skipped = d.gpu;
  d.skipped.case_id = "c1";
  d.skipped.status = "skip";
  d.skipped.reason = "unsupported";
  d.skipped.median_s = d.skipped.min_s = d.skipped.max_s = 0;
  d.skipped.iterations = d.skipped.repetitions = 0;
  return d;
}

Table table_of(const Drawn& d) {
  return {bench_columns(), {bench_row(d.gpu), bench_row(d.cpu), bench_row(d.skipped)}};
}

TEST(BenchTable, PercentagesComeFromTheRowsPeaks) {
  std::mt19937_64 rng(testing::test_seed());
  for (int trial = 0; trial < 20; ++trial) {
    const Drawn d = draw(rng);
    const Table t = table_of(d);
    const double tflops = d.gpu.flops / d.gpu.median_s * 1e-12;
    const double gbs = d.gpu.bytes / d.gpu.median_s * 1e-9;
    const double gemm = 100 * tflops / d.peaks.gemm_tflops, copy = 100 * gbs / d.peaks.copy_gbs;
    EXPECT_DOUBLE_EQ(t.number(0, "peak_tflops"), d.peaks.gemm_tflops);
    EXPECT_DOUBLE_EQ(t.number(0, "peak_gbs"), d.peaks.copy_gbs);
    EXPECT_NEAR(t.number(0, "pct_gemm_peak"), gemm, 1e-12 * gemm);
    EXPECT_NEAR(t.number(0, "pct_copy_bw"), copy, 1e-12 * copy);
    EXPECT_DOUBLE_EQ(t.number(0, "pct_peak"),
                     std::max(t.number(0, "pct_gemm_peak"), t.number(0, "pct_copy_bw")));
    // The CPU row is timed but has no ceiling; the skipped row has no time.
    for (const size_t r : {size_t(1), size_t(2)})
      for (const char* col : {"pct_gemm_peak", "pct_copy_bw", "pct_peak"})
        EXPECT_TRUE(std::isnan(t.number(r, col))) << "row " << r << " " << col;
    EXPECT_TRUE(std::isnan(t.number(1, "peak_tflops")));
    EXPECT_TRUE(std::isnan(t.number(1, "peak_gbs")));
    EXPECT_GT(t.number(1, "tflops"), 0);  // the CPU row keeps its throughput
  }
}

TEST(BenchTable, PeakAttributesOnlyWhenMeasured) {
  std::mt19937_64 rng(testing::test_seed());
  const Drawn d = draw(rng);
  auto find = [](const Attributes& a, const std::string& key) -> const Value* {
    for (const auto& [k, v] : a)
      if (k == key) return &v;
    return nullptr;
  };
  const Attributes measured = peak_attributes(d.peaks);
  ASSERT_NE(find(measured, "peaks_measured"), nullptr);
  EXPECT_EQ(std::get<int64_t>(*find(measured, "peaks_measured")), 1);
  EXPECT_EQ(std::get<std::string>(*find(measured, "peaks_reason")), "");
  EXPECT_EQ(std::get<double>(*find(measured, "peak_copy_gbs")), d.peaks.copy_gbs);
  EXPECT_EQ(std::get<double>(*find(measured, "peak_gemm_tflops")), d.peaks.gemm_tflops);
  EXPECT_EQ(std::get<int64_t>(*find(measured, "peak_copy_buffer_bytes")), d.peaks.copy_bytes);
  EXPECT_EQ(std::get<int64_t>(*find(measured, "peak_gemm_k")), d.peaks.gemm_k);
  EXPECT_EQ(std::get<std::string>(*find(measured, "peak_device")), "test GPU");

  const Attributes none = peak_attributes(unmeasured_peaks("built without CUDA"));
  EXPECT_EQ(std::get<int64_t>(*find(none, "peaks_measured")), 0);
  EXPECT_EQ(std::get<std::string>(*find(none, "peaks_reason")), "built without CUDA");
  EXPECT_NE(std::get<std::string>(*find(none, "peaks")).find("built without CUDA"),
            std::string::npos);
  for (const auto& [key, _] : none)
    EXPECT_NE(key.rfind("peak_", 0), 0u) << key << ": a value of peaks that were not measured";
}

TEST(BenchTable, FileRoundTripKeepsPeaksAndNaNs) {
  std::mt19937_64 rng(testing::test_seed());
  const Drawn d = draw(rng);
  const fs::path dir =
      fs::temp_directory_path() / ("sinkbench_bench_table_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "bench.h5").string();
  Attributes attrs = {{"file_kind", std::string(kBenchFileKind)},
                      {"bench_schema_version", kBenchSchemaVersion}};
  const Attributes peaks = peak_attributes(d.peaks);
  attrs.insert(attrs.end(), peaks.begin(), peaks.end());
  const Table written = table_of(d);
  write_table_file(path, attrs, "bench", written);
  const StoredTable back = read_bench_file(path);
  ASSERT_EQ(back.table.rows.size(), written.rows.size());
  for (size_t r = 0; r < written.rows.size(); ++r) {
    for (const char* col :
         {"peak_tflops", "peak_gbs", "pct_gemm_peak", "pct_copy_bw", "pct_peak"}) {
      const double a = written.number(r, col), b = back.table.number(r, col);
      EXPECT_TRUE(std::isnan(a) ? std::isnan(b) : a == b) << "row " << r << " " << col;
    }
    const BenchOutcome o = bench_outcome(back.table, r);
    EXPECT_EQ(std::isnan(o.peak_tflops), r == 1) << "only the CPU row has no peak";
  }
  ASSERT_TRUE(back.attribute("peak_copy_gbs").has_value());
  EXPECT_EQ(std::get<double>(*back.attribute("peak_copy_gbs")), d.peaks.copy_gbs);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sinkbench
