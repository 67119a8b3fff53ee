// tests/tools/report_test.cpp — `sinkbench run` writes a report next to its results;
// `sinkbench report` renders several files together; index.html loads in headless Chromium with
// every chart rendered and no script error (the page writes data-rendered once vegaEmbed's
// promises resolve, and errors into #errors).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "reports/store.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::run_child;

const std::string kSuite = std::string(SINKBENCH_SOURCE_DIR) + "/cases/suites/golden.yaml";

test::ChildResult sinkbench(std::vector<std::string> args, const fs::path& log) {
  args.insert(args.begin(), SINKBENCH_BIN);
  return run_child(std::move(args), log.string());
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Two small runs (bf16 and fp16 cases of the golden suite); the first also wrote its report.
struct Runs {
  fs::path dir, a, b;
};
const Runs& runs() {
  static const Runs r = [] {
    Runs r{fresh_dir("report"), {}, {}};
    r.a = r.dir / "bf16.h5";
    r.b = r.dir / "fp16.h5";
    const auto ra = sinkbench(
        {"run", "--suite", kSuite, "--device", "cpu", "--filter", "dtype=bf16", "-o", r.a.string()},
        r.dir / "a.log");
    EXPECT_EQ(ra.code, 0) << ra.output;
    const auto rb = sinkbench({"run", "--suite", kSuite, "--device", "cpu", "--filter",
                               "dtype=fp16", "--no-report", "-o", r.b.string()},
                              r.dir / "b.log");
    EXPECT_EQ(rb.code, 0) << rb.output;
    return r;
  }();
  return r;
}

std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const auto r = run_child({"sh", "-c", std::string("command -v ") + name},
                             (fs::temp_directory_path() / "sinkbench_which.log").string());
    if (r.code == 0) return r.output.substr(0, r.output.find('\n'));
  }
  return "";
}

TEST(Report, RunWritesItNextToTheResults) {
  const fs::path md = runs().dir / "report" / "report.md";
  ASSERT_TRUE(fs::exists(md));
  ASSERT_TRUE(fs::exists(runs().dir / "report" / "index.html"));
  EXPECT_FALSE(fs::exists(runs().dir / "report_b"));
  const std::string text = slurp(md);
  for (const char* section :
       {"## Provenance", "## Verdicts", "## Pass/fail matrix", "## Worst cases", "## Speed"})
    EXPECT_NE(text.find(section), std::string::npos) << section;
  const StoredRun run = read_store(runs().a.string());
  for (size_t i = 0; i < run.results.rows.size(); ++i)
    EXPECT_NE(text.find("`" + run.results.text(i, "impl") + "`"), std::string::npos);
  EXPECT_NE(text.find("TFLOP/s"), std::string::npos);
}

TEST(Report, SeveralFilesRenderTogether) {
  const fs::path out = runs().dir / "both";
  const auto r = sinkbench({"report", runs().a.string(), runs().b.string(), "-o", out.string()},
                           runs().dir / "both.log");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string md = slurp(out / "report.md");
  EXPECT_NE(md.find("bf16.h5"), std::string::npos);
  EXPECT_NE(md.find("fp16.h5"), std::string::npos);
  EXPECT_NE(md.find("| bf16 causal |"), std::string::npos);
  EXPECT_NE(md.find("| fp16 causal |"), std::string::npos);
}

TEST(Report, MissingBundlesExit2WithTheFix) {
  const auto r = sinkbench({"report", runs().a.string(), "--web", "/nonexistent/web", "-o",
                            (runs().dir / "nobundle").string()},
                           runs().dir / "nobundle.log");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("npm ci"), std::string::npos) << r.output;
}

TEST(Report, EveryChartRendersInHeadlessChromium) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "no chromium on PATH (tools/setup.sh installs it)";
  const fs::path out = runs().dir / "browser";
  ASSERT_EQ(sinkbench({"report", runs().a.string(), runs().b.string(), "-o", out.string()},
                      runs().dir / "browser.log")
                .code,
            0);
  const std::string url = "file://" + fs::absolute(out / "index.html").string();
  auto chrome = [&](const std::string& action, const std::string& log) {
    const fs::path profile = fresh_dir("chromium_profile_" + log);
    return run_child({browser, "--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync", "--no-first-run", "--user-data-dir=" + profile.string(),
                      "--virtual-time-budget=10000", "--window-size=1400,2000", action, url},
                     (runs().dir / log).string());
  };
  const auto dom = chrome("--dump-dom", "dom.html");
  ASSERT_EQ(dom.code, 0) << dom.output.substr(0, 2000);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      dom.output, m, std::regex("<body data-charts=\"(\\d+)\" data-rendered=\"(\\d+)\"")))
      << "no body marker in the dumped DOM";
  const int charts = std::stoi(m[1]), rendered = std::stoi(m[2]);
  EXPECT_GE(charts, 3);  // error (rel_l2, cw), position; speed when timed
  EXPECT_EQ(rendered, charts);
  ASSERT_TRUE(std::regex_search(dom.output, m, std::regex("<pre id=\"errors\">([^<]*)</pre>")));
  EXPECT_EQ(m[1].str(), "") << "the page reported errors";
  size_t svgs = 0;
  for (size_t at = 0; (at = dom.output.find("class=\"marks\"", at)) != std::string::npos; ++at)
    ++svgs;
  EXPECT_GE(svgs, size_t(charts));
  const fs::path shot = fs::path(SINKBENCH_ARTIFACT_DIR) / "report_screenshot.png";
  fs::remove(shot);
  const auto s = chrome("--screenshot=" + shot.string(), "shot.log");
  EXPECT_EQ(s.code, 0) << s.output.substr(0, 2000);
  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 10000u);  // a blank page is a few kB
}

}  // namespace
}  // namespace sinkbench
