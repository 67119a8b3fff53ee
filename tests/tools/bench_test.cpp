// tests/tools/bench_test.cpp — `sinkbench bench` end to end on a tiny suite with the CPU
// implementations: the bench table (a row per case x implementation, positive times, TFLOP/s and
// GB/s consistent with the FLOP/byte model), Google Benchmark JSON, `--compare` of a file with
// itself and with a base edited to be 10x faster, bad input, and the peak columns and attributes
// of a CPU-only run (no percentages, the reason stated).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "cases/flop_model.h"
#include "cases/suite.h"
#include "impls/impl.h"
#include "reports/store/bench_table.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using test::run_child;

const char* kTinySuite = R"(name: tiny-bench
base: {heads_q: 2, gqa: 2, head_dim: 32, sink: band:4:8, seed: 11}
axes:
  mask: [none, causal]
  shape: [{sq: 1, sk: 9}, {sq: 13, sk: 21}]
exclude: ["mask=none,sq=1"]
cases: [{mask: causal, sq: 5, sk: 7, page_size: 8}]
)";

// 3 cases of the axes, and one of page size 8 the paged kernels do not take (skip rows).
// Runs one tiny benchmark per test binary and shares its file; each test reads it.
class BenchTest : public ::testing::Test {
 protected:
  // One OpenMP thread: under a parallel ctest, spinning OpenMP teams on busy cores turn a
  // microsecond forward into milliseconds, leaving too few iterations for a decisive verdict.
  static void SetUpTestSuite() {
    dir_ = test::fresh_dir("bench");
    suite_ = (dir_ / "tiny.yaml").string();
    std::ofstream(suite_) << kTinySuite;
    first_ = run({"bench", "--suite", suite_, "--device", "cpu", "--min-time", "0.01", "--threads",
                  "1", "-o", path("a.h5"), "--json", path("a.json")});
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static test::ChildResult run(std::vector<std::string> args) {
    args.insert(args.begin(), SINKBENCH_BIN);
    return run_child(args, (dir_ / "log.txt").string());
  }
  static size_t rows_with(const std::string& text, const std::string& word) {
    size_t n = 0, at = 0;
    while ((at = text.find(word, at)) != std::string::npos)
      ++n, at += word.size();
    return n;
  }

  static inline fs::path dir_;
  static inline std::string suite_;
  static inline test::ChildResult first_;
};

TEST_F(BenchTest, WritesARowPerCaseAndImplementation) {
  ASSERT_EQ(first_.code, 0) << first_.output;
  const StoredTable t = read_bench_file(path("a.h5"));
  const std::vector<CaseSpec> cases = expand(load_suite_file(suite_), Filter{});
  ASSERT_EQ(cases.size(), 4u);
  std::set<std::pair<std::string, std::string>> expected, seen;
  size_t supported = 0;
  for (const CaseSpec& c : cases)
    for (const auto& impl : all_impls())
      if (impl->device() == Device::cpu) {
        expected.insert({case_id(c), impl->name()});
        supported += impl->supports(c).ok;
      }
  size_t timed = 0, skipped = 0;
  for (size_t r = 0; r < t.table.rows.size(); ++r) {
    const BenchOutcome b = bench_outcome(t.table, r);
    seen.insert({b.case_id, b.impl});
    EXPECT_EQ(b.device, "cpu");
    if (b.status != "ok") {
      EXPECT_EQ(b.status, "skip") << b.reason;
      EXPECT_FALSE(b.reason.empty());
      EXPECT_NE(first_.output.find(b.reason), std::string::npos) << "skip not shown: " << b.reason;
      ++skipped;
      continue;
    }
    ++timed;
    const CaseSpec& c = *std::find_if(cases.begin(), cases.end(),
                                      [&](const CaseSpec& x) { return case_id(x) == b.case_id; });
    EXPECT_GT(b.iterations, 0);
    EXPECT_EQ(b.repetitions, 1);
    EXPECT_GT(b.min_s, 0);
    EXPECT_LE(b.min_s, b.median_s);
    EXPECT_LE(b.median_s, b.max_s);
    EXPECT_DOUBLE_EQ(b.flops, forward_flops(c));
    EXPECT_DOUBLE_EQ(b.bytes, forward_bytes(c));
    EXPECT_NEAR(t.table.number(r, "tflops"), b.flops / b.median_s * 1e-12,
                1e-9 * t.table.number(r, "tflops"));
    EXPECT_NEAR(t.table.number(r, "gbs"), b.bytes / b.median_s * 1e-9,
                1e-9 * t.table.number(r, "gbs"));
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(t.table.rows.size(), expected.size());
  EXPECT_EQ(timed, supported);
  EXPECT_GT(timed, 0u);
  EXPECT_EQ(skipped, expected.size() - supported);
  EXPECT_GT(skipped, 0u);
  // The provenance of a results file, plus what marks a bench file.
  for (const char* key : {"git_sha", "compiler", "cpu", "host", "command_line", "start_time",
                          "suite", "min_time_s", "file_kind", "bench_schema_version"})
    EXPECT_TRUE(t.attribute(key).has_value()) << key;
  // Progress on stderr names every timed implementation.
  for (const auto& impl : all_impls()) {
    if (impl->device() == Device::cpu) {
      EXPECT_NE(first_.output.find(impl->name()), std::string::npos) << impl->name();
    }
  }
}

TEST_F(BenchTest, WritesGoogleBenchmarkJson) {
  std::ifstream in(path("a.json"));
  ASSERT_TRUE(in.good());
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "a.json is not valid JSON";
  ASSERT_TRUE(j.contains("benchmarks"));
  const StoredTable t = read_bench_file(path("a.h5"));
  std::set<std::string> names;
  for (size_t r = 0; r < t.table.rows.size(); ++r)
    if (t.table.text(r, "status") == "ok")
      names.insert(t.table.text(r, "case_id") + "/" + t.table.text(r, "impl"));
  std::set<std::string> in_json;
  for (const auto& b : j["benchmarks"]) {
    const std::string name = b["name"].get<std::string>();
    in_json.insert(name.substr(0, name.find("/manual_time")).substr(0, name.find("/min_time")));
    EXPECT_TRUE(b.contains("TFLOP/s")) << name;
  }
  EXPECT_EQ(in_json, names);
}

// A CPU run measures no peak: every row carries the new columns with NaN percentages and peaks
// (never 0%), the file says why (no peak_* values), and the JSON context carries the same line.
TEST_F(BenchTest, CpuRunHasPeakColumnsWithoutPeaksAndSaysWhy) {
  ASSERT_EQ(first_.code, 0) << first_.output;
  const StoredTable t = read_bench_file(path("a.h5"));
  ASSERT_EQ(std::get<int64_t>(*t.attribute("bench_schema_version")), kBenchSchemaVersion);
  size_t timed = 0;
  for (size_t r = 0; r < t.table.rows.size(); ++r) {
    for (const char* col : {"peak_tflops", "peak_gbs", "pct_gemm_peak", "pct_copy_bw", "pct_peak"})
      EXPECT_TRUE(std::isnan(t.table.number(r, col))) << "row " << r << " " << col;
    timed += t.table.text(r, "status") == "ok";
  }
  EXPECT_GT(timed, 0u);
  ASSERT_TRUE(t.attribute("peaks_measured").has_value());
  EXPECT_EQ(std::get<int64_t>(*t.attribute("peaks_measured")), 0);
  const std::string reason = to_text(*t.attribute("peaks_reason"));
  // A CPU-only build cannot measure; a CUDA build with --device cpu times no GPU row.
  EXPECT_TRUE(reason == "built without CUDA" || reason == "no GPU row timed in this run") << reason;
  EXPECT_NE(to_text(*t.attribute("peaks")).find(reason), std::string::npos);
  for (const auto& [key, _] : t.attrs)
    EXPECT_NE(key.rfind("peak_", 0), 0u) << key << " stored without a measurement";
  std::ifstream in(path("a.json"));
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  ASSERT_TRUE(j["context"].contains("sinkbench_peaks")) << j["context"].dump();
  EXPECT_NE(j["context"]["sinkbench_peaks"].get<std::string>().find(reason), std::string::npos);
  EXPECT_NE(first_.output.find("not measured: " + reason), std::string::npos) << first_.output;
}

TEST_F(BenchTest, CompareWithItselfIsSame) {
  const auto r = run({"bench", "--results", path("a.h5"), "--compare", path("a.h5")});
  EXPECT_EQ(r.code, 0) << r.output;
  const size_t timed = rows_with(r.output, "(medians within tolerance)");
  EXPECT_GT(timed, 0u);
  EXPECT_EQ(rows_with(r.output, " same ("), timed) << r.output;
  EXPECT_EQ(rows_with(r.output, " slower ("), 0u) << r.output;
  EXPECT_EQ(rows_with(r.output, " ambiguous ("), 0u) << r.output;
}

TEST_F(BenchTest, PlantedSlowdownIsSlowerAndExitsOne) {
  // The base claims every case ran 10x faster: the new file is then 10x slower.
  StoredTable t = read_table_file(path("a.h5"), "bench", bench_columns());
  size_t timed = 0;
  for (Row& row : t.table.rows) {
    if (std::get<std::string>(row[t.table.index("status")]) != "ok") continue;
    ++timed;
    for (const char* col : {"median_s", "min_s", "max_s"})
      std::get<double>(row[t.table.index(col)]) /= 10;
  }
  ASSERT_GT(timed, 0u);
  write_table_file(path("base.h5"), t.attrs, "bench", t.table);
  const auto r = run({"bench", "--results", path("a.h5"), "--compare", path("base.h5")});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(rows_with(r.output, " slower ("), timed) << r.output;
}

TEST_F(BenchTest, BadInputExitsTwoNamingTheChoices) {
  auto r = run({"bench", "--suite", suite_, "--impl", "nope/cpu", "-o", path("x.h5")});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("nope/cpu"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tiled/cpu"), std::string::npos) << r.output;
  r = run({"bench", "--suite", "no-such-suite", "-o", path("x.h5")});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("smoke"), std::string::npos) << r.output;
  r = run({"bench", "--results", path("a.json"), "--compare", path("a.h5")});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("a.json"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(path("x.h5")));
}

TEST_F(BenchTest, HelpWorks) {
  const auto r = run({"bench", "--help"});
  EXPECT_EQ(r.code, 0) << r.output;
  for (const char* opt : {"--suite", "--filter", "--impl", "--device", "--min-time",
                          "--repetitions", "--json", "--compare"})
    EXPECT_NE(r.output.find(opt), std::string::npos) << opt;
}

}  // namespace
}  // namespace sinkbench
