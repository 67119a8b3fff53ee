// reports/store/bench_table.h — the `bench` table of `sinkbench bench` (docs/results.md,
// "Benchmarks"): one row per case x implementation with the iteration-time statistics, the
// throughput of cases/flop_model.h and its share of the device's measured peaks
// (bench/device_peaks.h), the peaks' provenance as file attributes, and the noise-aware comparison
// of two such tables
// (`--compare`).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bench/device_peaks.h"
#include "reports/store/store.h"
#include "reports/store/table.h"

namespace sinkbench {

// Bumped whenever a column of the bench table changes; stored as `bench_schema_version`.
// 2: the peak columns (peak_tflops, peak_gbs, pct_gemm_peak, pct_copy_bw, pct_peak).
inline constexpr int64_t kBenchSchemaVersion = 2;
// The root attribute `file_kind` of a bench file (results files have none).
inline constexpr const char* kBenchFileKind = "bench";

const std::vector<Column>& bench_columns();

// What timing one case x implementation produced. status is "ok", "skip" (unsupported case or
// unavailable device; reason says why) or "error" (forward threw; reason is the message).
struct BenchOutcome {
  std::string case_id, label, impl, device;
  std::string status = "ok", reason;
  int64_t iterations = 0, repetitions = 0;
  double median_s = 0, min_s = 0, max_s = 0;
  double flops = 0, bytes = 0;
  // The measured ceilings of the row's device (DevicePeaks::gemm_tflops and copy_gbs). NaN for
  // CPU rows (no comparable ceiling is measured: docs/results.md) and where the peaks could not
  // be measured (the file's `peaks_reason` says why).
  double peak_tflops = std::numeric_limits<double>::quiet_NaN();
  double peak_gbs = std::numeric_limits<double>::quiet_NaN();
};
// TFLOP/s and GB/s are derived here from flops, bytes and the median (0 when not timed), and the
// percentages from those and the peaks: pct_gemm_peak = TFLOP/s over peak_tflops, pct_copy_bw =
// GB/s over peak_gbs, pct_peak = the larger of the two — the share of the roofline bound
// max(flops / peak, bytes / bandwidth), whichever resource binds. NaN when untimed or unmeasured.
Row bench_row(const BenchOutcome& b);

// Root attributes recording the peaks a table's percentages were taken against: always
// `peaks_measured` (1/0), `peaks_reason` (empty when measured) and `peaks` (one line); when
// measured, `peak_*` values with the sizes and iteration counts used (docs/results.md).
Attributes peak_attributes(const DevicePeaks& p);

// Reads a bench file; InputError names the file when it is not one (a results file included).
StoredTable read_bench_file(const std::string& path);

// --compare: each (case, impl) timed ("ok") in both tables.
enum class Change { same, faster, slower, ambiguous };
std::string_view change_name(Change c);

struct BenchDelta {
  std::string case_id, label, impl;
  double base_median = 0, new_median = 0, ratio = 0;  // ratio = new / base
  Change change = Change::same;
  std::string why;  // the clause of the rule that decided
};

// The rule (docs/results.md, "Comparing two bench files"), with t = tolerance. Timing noise is
// one-sided (interference only adds time), so min and median are robust and max is not:
//  - slower when even the fastest new iteration is slower than the base's median by the margin
//    (new_min > base_median * (1 + t)); with no change, all n new iterations land above the
//    base median with probability about 2^-n, so both sides need >= 5 iterations (<= 3%);
//  - faster symmetrically: the new median beats the fastest base iteration by the margin
//    (new_median * (1 + t) < base_min), with >= 5 iterations on both sides;
//  - else same when the medians differ by at most t (|ratio - 1| <= t);
//  - else ambiguous: the medians moved, but the ranges overlap (or too few iterations).
Change judge_change(const BenchOutcome& base, const BenchOutcome& now, double tolerance,
                    std::string* why = nullptr);

struct BenchComparison {
  std::vector<BenchDelta> rows;                  // sorted by case id, then implementation
  std::vector<std::string> only_base, only_new;  // "case_id impl" timed on one side only
  int64_t count(Change c) const;
};
BenchComparison compare_bench(const Table& base, const Table& now, double tolerance);
std::string render_comparison(const BenchComparison& cmp, const std::string& base_path,
                              const std::string& new_path, double tolerance);

// A bench table row back as an outcome.
BenchOutcome bench_outcome(const Table& t, size_t row);

}  // namespace sinkbench
