// tests/tools/hardening_test.cpp — `sinkbench` on the inputs and places a hostile or careless
// user gives it (docs/hardening.md): exact filter operators, a case too large for the machine
// (skipped with the reason, no journal left behind), suites with duplicate or complex keys or
// an exclude that removes everything, merge of different suites, and output places that are
// missing or read-only. Each answer is exit 2 with file and field, or a completed run.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "cases/suite.h"
#include "reports/store/store.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using test::ChildResult;

// Runs sinkbench with `args` (through env(1) when variables are set); returns its output.
ChildResult sinkbench(const fs::path& dir, const std::vector<std::string>& args,
                      const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {"env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(SINKBENCH_BIN);
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_child(argv, (dir / "log.txt").string());
}

fs::path write(const fs::path& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

const char* kTiny = R"(name: tiny
base: {heads_q: 2, heads_kv: 1, head_dim: 8, sink: band:4:8, seed: 3}
axes:
  sq: [1, 4]
  sk: [4, 9]
)";

size_t listed_cases(const std::string& output) {
  static const std::regex id("^[0-9a-f]{16}  ");
  std::istringstream in(output);
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    n += std::regex_search(line, id) ? 1 : 0;
  return n;
}

TEST(Hardening, DoubleEqualFilterMeansEquality) {
  const fs::path dir = test::fresh_dir("filter_eq");
  const Suite golden = load_suite("golden");
  const size_t want = size_t(std::count_if(golden.cases.begin(), golden.cases.end(),
                                           [](const CaseSpec& c) { return c.seqlen_q == 1; }));
  ASSERT_GT(want, 0u);
  ASSERT_LT(want, golden.cases.size());
  const ChildResult eq =
      sinkbench(dir, {"list", "cases", "--suite", "golden", "--filter", "sq==1"});
  EXPECT_EQ(eq.code, 0) << eq.output;
  EXPECT_EQ(listed_cases(eq.output), want) << eq.output;
  const ChildResult bad =
      sinkbench(dir, {"list", "cases", "--suite", "golden", "--filter", "sq=>1"});
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("unknown operator '=>' after field 'sq'"), std::string::npos)
      << bad.output;
}

TEST(Hardening, CaseTooLargeForMemoryIsSkippedWithReasonAndLeavesNoJournal) {
  const fs::path dir = test::fresh_dir("huge");
  const fs::path suite = write(dir, "huge.yaml", R"(name: huge
base: {heads_q: 2, heads_kv: 1, head_dim: 8, sink: none, seed: 5}
cases:
  - {sq: 4, sk: 4}
  - {sq: 20000000, sk: 16}
)");
  const std::string out = (dir / "huge.h5").string();
  const std::vector<std::string> args = {"run", "--suite",    suite.string(), "--device",
                                         "cpu", "--impl",     "tiled/cpu",    "-o",
                                         out,   "--no-report"};
  const ChildResult r = sinkbench(dir, args, {"SINKBENCH_MEMORY_LIMIT=256M"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(fs::exists(out + ".journal"));
  const StoredRun run = read_store(out);
  ASSERT_EQ(run.results.rows.size(), 2u);
  size_t skipped = 0;
  for (size_t i = 0; i < run.results.rows.size(); ++i) {
    if (run.results.text(i, "status") != "skip") continue;
    ++skipped;
    const std::string& why = run.results.text(i, "detail");
    EXPECT_NE(why.find(") but 256.0 MiB are available"), std::string::npos) << why;
    EXPECT_NE(why.find("field 'sq' (20000000)"), std::string::npos) << why;
  }
  EXPECT_EQ(skipped, 1u);
  // The next plain run to the same file is not blocked by anything the first one left.
  const ChildResult again = sinkbench(dir, args, {"SINKBENCH_MEMORY_LIMIT=256M"});
  EXPECT_EQ(again.code, 0) << again.output;
}

TEST(Hardening, CaseNoMachineHoldsIsRefusedAtExpansionNamingTheField) {
  const fs::path dir = test::fresh_dir("enormous");
  const fs::path suite = write(dir, "e.yaml", "base: {sq: 1000000000000000, sk: 4}\n");
  const ChildResult r = sinkbench(dir, {"run", "--suite", suite.string(), "--device", "cpu", "-o",
                                        (dir / "e.h5").string(), "--no-report"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(suite.string() + ":1:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("field 'sq' (1000000000000000) makes it that large"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir / "e.h5.journal"));
}

struct BadSuite {
  const char* name;
  const char* yaml;
  const char* message;
};

void PrintTo(const BadSuite& p, std::ostream* os) {
  *os << p.name;
}

class HardeningSuite : public ::testing::TestWithParam<BadSuite> {};

TEST_P(HardeningSuite, ExitsTwoNamingFileAndKey) {
  const fs::path dir = test::fresh_dir(std::string("suite_") + GetParam().name);
  const fs::path suite = write(dir, "bad.yaml", GetParam().yaml);
  const ChildResult r = sinkbench(dir, {"list", "cases", "--suite", suite.string()});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(suite.string() + GetParam().message), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("--filter"), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, HardeningSuite,
    ::testing::Values(BadSuite{"DuplicateKey",
                               "base: {sq: 4}\naxes:\n  sk: [4, 8]\nbase: {sq: 8}\n",
                               ":4:1: duplicate key 'base' in the suite"},
                      BadSuite{"ComplexKey", "base: {[sq, sk]: 4}\n",
                               ":1:8: a key of a case map is a list (expected a field name)"},
                      BadSuite{"ExcludeRemovesEveryCase",
                               "axes:\n  dtype: [fp16, bf16]\nexclude: [\"dtype!=fp32\"]\n",
                               ": 'exclude' removes every one of the suite's 2 cases"}),
    [](const ::testing::TestParamInfo<BadSuite>& i) { return std::string(i.param.name); });

TEST(Hardening, MergeRefusesRunsOfDifferentSuites) {
  const fs::path dir = test::fresh_dir("merge_suites");
  const fs::path a = write(dir, "a.yaml", kTiny);
  std::string other = kTiny;
  other.replace(other.find("tiny"), 4, "other");
  const fs::path b = write(dir, "b.yaml", other);
  for (const auto& [suite, out] : {std::pair{a, "a.h5"}, std::pair{b, "b.h5"}}) {
    const ChildResult r =
        sinkbench(dir, {"run", "--suite", suite.string(), "--device", "cpu", "--impl", "tiled/cpu",
                        "-o", (dir / out).string(), "--no-report"});
    ASSERT_EQ(r.code, 0) << r.output;
  }
  const ChildResult m = sinkbench(dir, {"merge", (dir / "a.h5").string(), (dir / "b.h5").string(),
                                        "-o", (dir / "m.h5").string()});
  EXPECT_EQ(m.code, 2) << m.output;
  EXPECT_NE(m.output.find("is a run of suite 'other' but"), std::string::npos) << m.output;
  EXPECT_FALSE(fs::exists(dir / "m.h5"));
}

TEST(Hardening, RunCreatesAMissingOutputDirectory) {
  const fs::path dir = test::fresh_dir("run_mkdir");
  const fs::path suite = write(dir, "tiny.yaml", kTiny);
  const fs::path out = dir / "new" / "deeper" / "r.h5";
  const ChildResult r = sinkbench(dir, {"run", "--suite", suite.string(), "--device", "cpu",
                                        "--impl", "tiled/cpu", "-o", out.string(), "--no-report"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(read_store(out.string()).complete);
}

// Runs the command with `ro` replaced by a read-only file system (a tmpfs mounted read-only in
// a private mount namespace); nullopt where this machine does not allow that (not root).
std::optional<ChildResult> on_read_only_fs(const fs::path& dir, const fs::path& ro,
                                           const std::vector<std::string>& args) {
  fs::create_directories(ro);
  const std::string mount = "mount -t tmpfs -o ro tmpfs \"$0\"";
  const ChildResult probe = test::run_child({"unshare", "-m", "sh", "-c", mount, ro.string()},
                                            (dir / "probe.txt").string());
  if (probe.code != 0) return std::nullopt;
  std::vector<std::string> argv = {
      "unshare",   "-m", "sh",         "-c", mount + " && shift && exec \"$@\"",
      ro.string(), "-",  SINKBENCH_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_child(argv, (dir / "log.txt").string());
}

TEST(Hardening, GoldenUpdateOnAReadOnlyFileSystemExitsTwo) {
  const fs::path dir = test::fresh_dir("golden_ro");
  const fs::path ro = dir / "ro";
  const auto r = on_read_only_fs(
      dir, ro, {"golden", "update", "--why", "test", "--golden", (ro / "g.h5").string()});
  if (!r) GTEST_SKIP() << "no private read-only mount here (needs root)";
  EXPECT_EQ(r->code, 2) << r->output;
  EXPECT_NE(r->output.find("--golden " + (ro / "g.h5").string() + ": directory " + ro.string() +
                           " is not writable: Read-only file system"),
            std::string::npos)
      << r->output;
}

TEST(Hardening, BenchToAReadOnlyDirectoryFailsBeforeTiming) {
  const fs::path dir = test::fresh_dir("bench_ro");
  const fs::path suite = write(dir, "tiny.yaml", kTiny);
  const fs::path ro = dir / "ro";
  const auto r = on_read_only_fs(dir, ro,
                                 {"bench", "--suite", suite.string(), "--device", "cpu", "--impl",
                                  "tiled/cpu", "-o", (ro / "b.h5").string()});
  if (!r) GTEST_SKIP() << "no private read-only mount here (needs root)";
  EXPECT_EQ(r->code, 2) << r->output;
  EXPECT_NE(r->output.find("is not writable: Read-only file system"), std::string::npos)
      << r->output;
  EXPECT_EQ(r->output.find("tiled/cpu"), std::string::npos) << "timed before failing:\n"
                                                            << r->output;
}

}  // namespace
}  // namespace sinkbench
