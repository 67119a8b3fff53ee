// tests/tools/golden_test.cpp — the golden fixture and `sinkbench diff` end to end: a fresh run of
// the golden suite matches cases/golden/smoke.h5 bit for bit; planted regressions (an output
// made worse, a case removed, an oracle value nudged) exit 1 and are each named; a truncated
// golden exits 2 naming the file; `golden update` records its reason.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>

#include "reports/store/arrays.h"
#include "reports/store/store.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::run_child;

const std::string kGolden = std::string(SINKBENCH_SOURCE_DIR) + "/cases/golden/smoke.h5";
const std::string kSuite = std::string(SINKBENCH_SOURCE_DIR) + "/cases/suites/golden.yaml";

test::ChildResult sinkbench(std::vector<std::string> args, const fs::path& log) {
  args.insert(args.begin(), SINKBENCH_BIN);
  return run_child(std::move(args), log.string());
}

// One run of the golden suite with arrays, shared by the tests of this file.
const fs::path& golden_run() {
  static const fs::path path = [] {
    const fs::path d = fresh_dir("golden_run");
    const auto r = sinkbench({"run", "--suite", kSuite, "--device", "cpu", "--keep-arrays",
                              "--no-report", "-o", (d / "run.h5").string()},
                             d / "run.log");
    EXPECT_EQ(r.code, 0) << r.output;
    return d / "run.h5";
  }();
  return path;
}

// Overwrites one element of /arrays/<case>/<name> (float32 or float64) with f(old).
template <typename F>
void edit_element(const fs::path& file, const std::string& case_id, const std::string& name, F f) {
  const hid_t h = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(h, 0);
  const std::string path = "/arrays/" + case_id + "/" + name;
  const hid_t d = H5Dopen2(h, path.c_str(), H5P_DEFAULT);
  ASSERT_GE(d, 0) << path;
  const hid_t space = H5Dget_space(d);
  std::vector<double> v(size_t(H5Sget_simple_extent_npoints(space)));
  ASSERT_GE(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
  v[v.size() / 2] = f(v[v.size() / 2]);
  ASSERT_GE(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(h);
}

// A copy of `src` without case `drop`, written through the store (rows and arrays).
void copy_without_case(const fs::path& src, const fs::path& dst, const std::string& drop) {
  const StoredRun run = read_store(src.string());
  Store out = Store::create(dst.string(), run.attrs);
  for (size_t c = 0; c < run.cases.rows.size(); ++c) {
    const std::string id = run.cases.text(c, "case_id");
    if (id == drop) continue;
    CaseRecord rec;
    rec.case_row = run.cases.rows[c];
    for (size_t r = 0; r < run.results.rows.size(); ++r)
      if (run.results.text(r, "case_id") == id) rec.results.push_back(run.results.rows[r]);
    out.append(rec);
    ASSERT_TRUE(out.copy_arrays(src.string(), id));
  }
  out.close();
}

TEST(GoldenDiff, FreshRunOfTheGoldenSuiteIsClean) {
  const fs::path d = fresh_dir("golden_clean");
  const auto r = sinkbench({"diff", kGolden, golden_run().string()}, d / "diff.log");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("clean:"), std::string::npos) << r.output;
  // Arrays were compared, not silently skipped.
  EXPECT_EQ(r.output.find("NOT checked"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(" 0 arrays compared"), std::string::npos) << r.output;
}

TEST(GoldenDiff, RunWithoutArraysSaysWhatWasNotChecked) {
  const fs::path d = fresh_dir("golden_noarrays");
  const auto run = sinkbench(
      {"run", "--suite", kSuite, "--device", "cpu", "--no-report", "-o", (d / "plain.h5").string()},
      d / "run.log");
  ASSERT_EQ(run.code, 0) << run.output;
  const auto r = sinkbench({"diff", kGolden, (d / "plain.h5").string()}, d / "diff.log");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("has no arrays"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NOT checked"), std::string::npos) << r.output;
}

TEST(GoldenDiff, PlantedRegressionsAreEachNamed) {
  const fs::path d = fresh_dir("golden_planted");
  const StoredRun run = read_store(golden_run().string());
  ASSERT_GE(run.cases.rows.size(), 3u);
  const std::string dropped = run.cases.text(0, "case_id");
  const std::string worse = run.cases.text(1, "case_id");
  const std::string nudged = run.cases.text(2, "case_id");
  // An fp32 case makes the edited output a plain float array; any case will do for the oracle.
  std::string fp32_case;
  for (size_t c = 1; c < run.cases.rows.size() && fp32_case.empty(); ++c)
    if (run.cases.text(c, "dtype") == "fp32" && run.cases.text(c, "case_id") != nudged)
      fp32_case = run.cases.text(c, "case_id");
  ASSERT_FALSE(fp32_case.empty());
  (void)worse;

  const fs::path planted = d / "planted.h5";
  copy_without_case(golden_run(), planted, dropped);
  edit_element(planted, fp32_case, "impls/tiled/cpu/o", [](double x) { return x + 0.25; });
  edit_element(planted, nudged, "oracle/o", [](double x) { return x * (1 + 1e-9) + 1e-9; });

  const auto r = sinkbench({"diff", kGolden, planted.string()}, d / "diff.log");
  EXPECT_EQ(r.code, 1) << r.output;
  auto has_line = [&](const std::string& kind, const std::string& id, const std::string& what) {
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);)
      if (line.find("REGRESSION") == 0 && line.find(kind) != std::string::npos &&
          line.find(id) != std::string::npos && line.find(what) != std::string::npos)
        return true;
    return false;
  };
  EXPECT_TRUE(has_line("missing_case", dropped, "")) << r.output;
  EXPECT_TRUE(has_line("not_bit_identical", fp32_case, "impls/tiled/cpu/o")) << r.output;
  EXPECT_TRUE(has_line("oracle_drift", nudged, "oracle/o")) << r.output;
  EXPECT_NE(r.output.find("REGRESSED"), std::string::npos) << r.output;
}

TEST(GoldenDiff, TruncatedGoldenExits2NamingTheFile) {
  const fs::path d = fresh_dir("golden_truncated");
  const fs::path cut = d / "truncated_golden.h5";
  fs::copy_file(kGolden, cut);
  fs::resize_file(cut, fs::file_size(cut) / 3);
  const auto r = sinkbench({"diff", cut.string(), golden_run().string()}, d / "diff.log");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(cut.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("golden"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
}

TEST(GoldenUpdate, RecordsTheReasonAndRefusesNone) {
  const fs::path d = fresh_dir("golden_update");
  const fs::path g = d / "tiny_golden.h5";
  const auto none =
      sinkbench({"golden", "update", "--why", " ", "--golden", g.string(), "--suite", kSuite},
                d / "none.log");
  EXPECT_EQ(none.code, 2) << none.output;
  EXPECT_FALSE(fs::exists(g));
  const std::string why = "test: regenerate to check the recorded reason";
  for (int round = 0; round < 2; ++round) {
    const auto r =
        sinkbench({"golden", "update", "--why", why, "--golden", g.string(), "--suite", kSuite},
                  d / "update.log");
    ASSERT_EQ(r.code, 0) << r.output;
  }
  const StoredRun run = read_store(g.string());
  ASSERT_TRUE(run.attribute("golden_reason"));
  EXPECT_EQ(to_text(*run.attribute("golden_reason")), why);
  ASSERT_TRUE(run.attribute("golden_updated"));
  EXPECT_FALSE(to_text(*run.attribute("golden_updated")).empty());
  ASSERT_TRUE(run.attribute("golden_history"));  // the first fixture, replaced by the second
  EXPECT_NE(to_text(*run.attribute("golden_history")).find(why), std::string::npos);
  EXPECT_TRUE(ArrayFile(g.string()).any());
  // The regenerated golden diffs clean against the committed one's suite run.
  const auto diff = sinkbench({"diff", g.string(), golden_run().string()}, d / "diff.log");
  EXPECT_EQ(diff.code, 0) << diff.output;
}

}  // namespace
}  // namespace sinkbench
