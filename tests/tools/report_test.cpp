// tests/tools/report_test.cpp — `sinkbench run` writes a report next to its results;
// `sinkbench report` renders several files together; a results file with one planted failure
// and one planted skip leads both renderings with the failure (banner, matrix, failing row first)
// and shows the skip with its reason, never as zeros. index.html is loaded in headless Chromium:
// every chart renders with no script error (the page writes data-rendered once vegaEmbed's
// promises resolve, errors into #errors, and the ids of the answer's parts that lie on the first
// screen into data-first-screen), and a screenshot of the planted report's first screen is kept.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "reports/store/store.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::run_child;

const std::string kSuite = std::string(SINKBENCH_SOURCE_DIR) + "/cases/suites/golden.yaml";
const std::string kPlantedDetail = "o exceeds its bound 37.5x (planted by report_test)";
const std::string kPlantedSkip = "no CUDA device: planted by report_test";

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

void set(Table& t, size_t row, const std::string& column, Value v) {
  t.rows[row][t.index(column)] = std::move(v);
}

// Which rows of a copy were planted, by (implementation, case label).
struct Planted {
  std::string fail_impl, fail_label, skip_impl, skip_label;
};

// Writes the (edited) tables of a run as a new results file.
void write_copy(const StoredRun& run, const fs::path& to) {
  const Table& R = run.results;
  Store out = Store::create(to.string(), run.attrs);
  for (size_t c = 0; c < run.cases.rows.size(); ++c) {
    CaseRecord rec;
    rec.case_row = run.cases.rows[c];
    for (const Row& r : R.rows)
      if (std::get<std::string>(r[R.index("case_id")]) == rec.id()) rec.results.push_back(r);
    out.append(rec);
  }
  out.close();
}

// Copies a results file, turning its last result row into a failure of o_bound (budget 37.5)
// and its first into a skip with a reason and zero metrics (what a skip row stores).
Planted plant(const fs::path& from, const fs::path& to) {
  StoredRun run = read_store(from.string());
  Table& R = run.results;
  std::map<std::string, std::string> label;
  for (size_t i = 0; i < run.cases.rows.size(); ++i)
    label[run.cases.text(i, "case_id")] = run.cases.text(i, "label");
  const size_t fail = R.rows.size() - 1, skip = 0;
  set(R, fail, "status", std::string("fail"));
  set(R, fail, "bound", std::string("o_bound"));
  set(R, fail, "o_budget", 37.5);
  set(R, fail, "detail", kPlantedDetail);
  set(R, skip, "status", std::string("skip"));
  set(R, skip, "detail", kPlantedSkip);
  for (size_t c = 0; c < R.columns.size(); ++c) {
    if (R.columns[c].kind == Kind::f64) R.rows[skip][c] = 0.0;
    if (R.columns[c].kind == Kind::i64) R.rows[skip][c] = int64_t(0);
  }
  write_copy(run, to);
  return {R.text(fail, "impl"), label[R.text(fail, "case_id")], R.text(skip, "impl"),
          label[R.text(skip, "case_id")]};
}

// Two small runs (bf16 and fp16 cases of the golden suite); the first also wrote its report;
// a copy of the first with a planted failure and skip.
struct Runs {
  fs::path dir, a, b, planted;
  Planted rows;
};
const Runs& runs() {
  static const Runs r = [] {
    Runs r{fresh_dir("report"), {}, {}, {}, {}};
    r.a = r.dir / "bf16.h5";
    r.b = r.dir / "fp16.h5";
    r.planted = r.dir / "planted.h5";
    const auto ra = sinkbench(
        {"run", "--suite", kSuite, "--device", "cpu", "--filter", "dtype=bf16", "-o", r.a.string()},
        r.dir / "a.log");
    EXPECT_EQ(ra.code, 0) << ra.output;
    const auto rb = sinkbench({"run", "--suite", kSuite, "--device", "cpu", "--filter",
                               "dtype=fp16", "--no-report", "-o", r.b.string()},
                              r.dir / "b.log");
    EXPECT_EQ(rb.code, 0) << rb.output;
    r.rows = plant(r.a, r.planted);
    return r;
  }();
  return r;
}

std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const auto r = run_child({"sh", "-c", std::string("command -v ") + name},
                             (runs().dir / "which.log").string());
    if (r.code == 0) return r.output.substr(0, r.output.find('\n'));
  }
  return "";
}

// Loads a page in headless Chromium at 1400 x height and returns the DOM after its scripts ran
// (or, with a screenshot path, writes the first screen there).
test::ChildResult chrome(const std::string& browser, const fs::path& page, int height,
                         const std::string& log, const fs::path& screenshot = {}) {
  const fs::path profile = fresh_dir("chromium_profile_" + log);
  const std::string action =
      screenshot.empty() ? std::string("--dump-dom") : "--screenshot=" + screenshot.string();
  auto r =
      run_child({browser, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + profile.string(),
                 "--virtual-time-budget=10000", "--window-size=1400," + std::to_string(height),
                 action, "file://" + fs::absolute(page).string()},
                (runs().dir / log).string());
  fs::remove_all(profile);
  return r;
}

std::string match(const std::string& text, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(text, m, std::regex(pattern)) ? m[1].str() : std::string("(none)");
}

// Every chart drawn, no script error.
void expect_rendered(const std::string& dom) {
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      dom, m, std::regex("<body data-charts=\"(\\d+)\" data-rendered=\"(\\d+)\"")))
      << "no body marker in the dumped DOM";
  const int charts = std::stoi(m[1]), rendered = std::stoi(m[2]);
  EXPECT_GE(charts, 4);  // floor ratio, error (rel_l2, cw), position; speed when timed
  EXPECT_EQ(rendered, charts);
  EXPECT_EQ(match(dom, "<pre id=\"errors\">([^<]*)</pre>"), "") << "the page reported errors";
  size_t svgs = 0;
  for (size_t at = 0; (at = dom.find("class=\"marks\"", at)) != std::string::npos; ++at)
    ++svgs;
  EXPECT_GE(svgs, size_t(charts));
}

TEST(Report, RunWritesItNextToTheResults) {
  const fs::path md = runs().dir / "report" / "report.md";
  ASSERT_TRUE(fs::exists(md));
  ASSERT_TRUE(fs::exists(runs().dir / "report" / "index.html"));
  EXPECT_FALSE(fs::exists(runs().dir / "report_b"));
  const std::string text = slurp(md);
  EXPECT_EQ(text.find("**✅ All "), text.find('\n') + 2) << "the verdict is not the first line";
  for (const char* section :
       {"## Pass/fail matrix", "## Worst cases", "## Skipped",
        "## Error against the rounding floor", "## Verdicts", "## Speed", "## Provenance"})
    EXPECT_NE(text.find(section), std::string::npos) << section;
  EXPECT_LT(text.find("## Pass/fail matrix"), text.find("## Worst cases"));
  EXPECT_LT(text.find("## Worst cases"), text.find("## Error against the rounding floor"));
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

TEST(Report, PlantedFailureLeadsTheMarkdownAndSkipsAreNotZeros) {
  const fs::path out = runs().dir / "planted_md";
  ASSERT_EQ(sinkbench({"report", runs().planted.string(), "-o", out.string()},
                      runs().dir / "planted_md.log")
                .code,
            0);
  const std::string md = slurp(out / "report.md");
  EXPECT_NE(md.find("**❌ 1 failure in "), std::string::npos) << md.substr(0, 400);
  EXPECT_NE(md.find("❌ "), std::string::npos);  // a matrix cell
  // The planted failure is the first row of the worst cases, with its bound and budget.
  const std::string worst = md.substr(md.find("## Worst cases"));
  const std::string first = worst.substr(worst.find("\n| `") + 1);
  const std::string row = first.substr(0, first.find('\n'));
  EXPECT_NE(row.find("`" + runs().rows.fail_impl + "`"), std::string::npos) << row;
  EXPECT_NE(row.find(runs().rows.fail_label), std::string::npos) << row;
  EXPECT_NE(row.find("| fail | o_bound | 37.5 |"), std::string::npos) << row;
  EXPECT_NE(row.find(" row "), std::string::npos) << "no worst element: " << row;
  // The skip is listed with its reason and appears nowhere as a measured row.
  const std::string skipped = md.substr(md.find("## Skipped"));
  EXPECT_NE(skipped.find("| `" + runs().rows.skip_impl + "` | 1 | " + kPlantedSkip + " |"),
            std::string::npos)
      << skipped.substr(0, 400);
  EXPECT_EQ(worst.substr(0, worst.find("\n## ")).find("| skip |"), std::string::npos);
}

TEST(Report, EveryChartRendersInHeadlessChromium) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "no chromium on PATH (tools/setup.sh installs it)";
  const fs::path out = runs().dir / "browser";
  ASSERT_EQ(sinkbench({"report", runs().a.string(), runs().b.string(), "-o", out.string()},
                      runs().dir / "browser.log")
                .code,
            0);
  const auto dom = chrome(browser, out / "index.html", 2000, "dom.log");
  ASSERT_EQ(dom.code, 0) << dom.output.substr(0, 2000);
  expect_rendered(dom.output);
  EXPECT_NE(match(dom.output, "id=\"verdict\"[^>]*>([^<]*)").find("✓ All "), std::string::npos);
  // Both files' rows are in the page: the summary names each file.
  EXPECT_NE(dom.output.find("<td>bf16.h5</td>"), std::string::npos);
  EXPECT_NE(dom.output.find("<td>fp16.h5</td>"), std::string::npos);
}

// The Done-when of the report: a run with one planted failure shows the banner and the failing
// row on the first screen (1400 x 900), checked in the DOM and kept as a screenshot to look at.
TEST(Report, PlantedFailureIsOnTheFirstScreenInHeadlessChromium) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "no chromium on PATH (tools/setup.sh installs it)";
  const fs::path out = runs().dir / "planted";
  ASSERT_EQ(
      sinkbench({"report", runs().planted.string(), "-o", out.string()}, runs().dir / "planted.log")
          .code,
      0);
  const auto dom = chrome(browser, out / "index.html", 900, "planted_dom.log");
  ASSERT_EQ(dom.code, 0) << dom.output.substr(0, 2000);
  const std::string& d = dom.output;
  expect_rendered(d);
  EXPECT_EQ(match(d, "id=\"verdict\"[^>]*class=\"([^\"]*)\""), "bad");
  EXPECT_NE(match(d, "id=\"verdict\"[^>]*>([^<]*)").find("✗ 1 failure in "), std::string::npos);
  // The first row of the failures table is the planted one.
  const std::string failures = d.substr(d.find("id=\"failures\""));
  const std::string first = match(failures, "<tr class=\"fail\">(.*?)</tr>");
  EXPECT_NE(first.find(">" + runs().rows.fail_impl + "<"), std::string::npos) << first;
  EXPECT_NE(first.find(">" + runs().rows.fail_label + "<"), std::string::npos) << first;
  EXPECT_NE(first.find(">o_bound<"), std::string::npos) << first;
  EXPECT_NE(first.find(kPlantedDetail), std::string::npos) << first;
  EXPECT_NE(d.find("class=\"cell-fail\""), std::string::npos) << "no red matrix cell";
  // On the first screen: the page measured its own layout.
  const std::string screen = match(d, "data-first-screen=\"([^\"]*)\"");
  for (const char* part : {"verdict", "matrix", "failure-1"})
    EXPECT_NE((" " + screen + " ").find(std::string(" ") + part + " "), std::string::npos)
        << part << " is not on the first screen: " << screen;
  // The skip: listed with its reason; its row in the results table shows "—", not zeros.
  EXPECT_NE(d.find("<td>" + kPlantedSkip + "</td>"), std::string::npos);
  const std::string skip_row =
      match(d.substr(d.find("id=\"results\"")), "<tr class=\"skip\">(.*?)</tr>");
  EXPECT_NE(skip_row.find("<td class=\"absent\">—</td>"), std::string::npos) << skip_row;
  EXPECT_EQ(skip_row.find(">0<"), std::string::npos) << skip_row;
  EXPECT_EQ(skip_row.find(">0.00<"), std::string::npos) << skip_row;

  const fs::path shot = fs::path(SINKBENCH_ARTIFACT_DIR) / "report_screenshot.png";
  fs::remove(shot);
  const auto s = chrome(browser, out / "index.html", 900, "shot.log", shot);
  EXPECT_EQ(s.code, 0) << s.output.substr(0, 2000);
  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 10000u);  // a blank page is a few kB
}

// ---- Gradients: the section is there exactly when some backward was judged ------------------

const std::string kGradDetail = "dk: 12.5x its bound (planted by report_test)";

// A copy of the bf16 run whose last judged backward fails dk's bound (budget 12.5), as the run
// records it (the row fails with the gradient's bound); and a run of forward-only cases.
struct GradRuns {
  fs::path planted, forward_only;
  std::string impl, label;
};
const GradRuns& grad_runs() {
  static const GradRuns g = [] {
    GradRuns g{runs().dir / "grad_planted.h5", runs().dir / "forward_only.h5", {}, {}};
    StoredRun run = read_store(runs().a.string());
    Table& R = run.results;
    size_t row = R.rows.size();
    for (size_t i = 0; i < R.rows.size(); ++i)
      if (R.text(i, "grad_status") == "pass") row = i;
    EXPECT_LT(row, R.rows.size()) << "the golden suite's bf16 cases judged no backward";
    if (row == R.rows.size()) return g;
    for (const char* prefix : {"grad_", ""}) {
      set(R, row, std::string(prefix) + "status", std::string("fail"));
      set(R, row, std::string(prefix) + "bound", std::string("dk_bound"));
      set(R, row, std::string(prefix) + "detail", kGradDetail);
    }
    set(R, row, "dk_budget", 12.5);
    g.impl = R.text(row, "impl");
    for (size_t c = 0; c < run.cases.rows.size(); ++c)
      if (run.cases.text(c, "case_id") == R.text(row, "case_id"))
        g.label = run.cases.text(c, "label");
    write_copy(run, g.planted);
    const auto r = sinkbench({"run", "--suite", kSuite, "--device", "cpu", "--filter",
                              "grad=none,dtype=fp32", "--no-report", "-o", g.forward_only.string()},
                             runs().dir / "forward_only.log");
    EXPECT_EQ(r.code, 0) << r.output;
    return g;
  }();
  return g;
}

TEST(Report, GradientSectionOnlyWhereABackwardWasJudged) {
  // The run's own report (bf16 golden cases, some with a backward) has the section in both.
  EXPECT_NE(slurp(runs().dir / "report" / "report.md").find("## Gradients"), std::string::npos);
  EXPECT_NE(slurp(runs().dir / "report" / "index.html").find("<section id=\"gradients\""),
            std::string::npos);
  const fs::path out = runs().dir / "forward_only_report";
  ASSERT_EQ(sinkbench({"report", grad_runs().forward_only.string(), "-o", out.string()},
                      runs().dir / "forward_only_report.log")
                .code,
            0);
  EXPECT_EQ(read_store(grad_runs().forward_only.string()).results.text(0, "grad_status"), "");
  EXPECT_EQ(slurp(out / "report.md").find("## Gradients"), std::string::npos);
  EXPECT_EQ(slurp(out / "index.html").find("id=\"gradients\""), std::string::npos);
  // The planted dk failure heads report.md's worst gradient results, with its budget and bound.
  const fs::path planted = runs().dir / "grad_planted_md";
  ASSERT_EQ(sinkbench({"report", grad_runs().planted.string(), "-o", planted.string()},
                      runs().dir / "grad_planted_md.log")
                .code,
            0);
  const std::string md = slurp(planted / "report.md");
  const size_t worst = md.find("### Worst gradient results");
  ASSERT_NE(worst, std::string::npos) << md;
  const size_t first = md.find("\n| grad_planted.h5 |", worst);
  ASSERT_NE(first, std::string::npos) << md.substr(worst, 1000);
  const std::string row = md.substr(first + 1, md.find('\n', first + 1) - first - 1);
  EXPECT_NE(row.find("| " + grad_runs().impl + " | " + grad_runs().label + " | fail |"),
            std::string::npos)
      << row;
  EXPECT_NE(row.find("| 12.5 |"), std::string::npos) << row;
  EXPECT_NE(row.find("dk_bound: " + kGradDetail), std::string::npos) << row;
  // A file from before gradients (schema v1: no gradient or diagnosis columns) renders, without.
  const fs::path v1 = runs().dir / "v1_report";
  const auto r =
      sinkbench({"report", std::string(SINKBENCH_SOURCE_DIR) + "/tests/reports/data/results_v1.h5",
                 "-o", v1.string()},
                runs().dir / "v1_report.log");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(v1 / "report.md").find("## Gradients"), std::string::npos);
  EXPECT_EQ(slurp(v1 / "index.html").find("id=\"gradients\""), std::string::npos);
}

// The page's Gradients section in headless Chromium: a planted dk failure is red in the
// implementation x gradient matrix, named by its bound, and first in the worst gradient results;
// the error-by-length chart renders. A forward-only file's page has no such section.
TEST(Report, GradientSectionInHeadlessChromium) {
  const std::string browser = chromium();
  if (browser.empty()) GTEST_SKIP() << "no chromium on PATH (tools/setup.sh installs it)";
  ASSERT_FALSE(grad_runs().impl.empty());
  const fs::path out = runs().dir / "grad_browser";
  ASSERT_EQ(sinkbench({"report", grad_runs().planted.string(), "-o", out.string()},
                      runs().dir / "grad_browser.log")
                .code,
            0);
  const auto dom = chrome(browser, out / "index.html", 2000, "grad_dom.log");
  ASSERT_EQ(dom.code, 0) << dom.output.substr(0, 2000);
  const std::string& d = dom.output;
  expect_rendered(d);
  const size_t at = d.find("<section id=\"gradients\"");
  ASSERT_NE(at, std::string::npos) << "no gradients section";
  const std::string sec = d.substr(at, d.find("</section>", at) - at);
  EXPECT_NE(match(sec, "id=\"grad-verdict\"[^>]*>([^<]*)").find("1 fail"), std::string::npos);
  // The matrix: the header names the four gradients; the planted cell is red and names dk_bound.
  const std::string matrix = sec.substr(sec.find("id=\"grad-matrix\""));
  EXPECT_NE(matrix.find("<th>dq</th><th>dk</th><th>dv</th><th>dsinks</th>"), std::string::npos);
  const std::string row = match(
      matrix, "<tr><td>" + std::regex_replace(grad_runs().impl, std::regex("[.+/-]"), "\\$&") +
                  "</td>(.*?)</tr>");
  EXPECT_NE(row.find("class=\"cell-fail\""), std::string::npos) << row;
  EXPECT_NE(row.find("✗ dk_bound"), std::string::npos) << row;
  EXPECT_EQ(row.find("dq_bound"), std::string::npos) << row;
  // The chart drew marks; the worst table's first row is the planted result.
  const std::string chart = sec.substr(sec.find("id=\"chart-grad\""));
  EXPECT_NE(chart.substr(0, chart.find("id=\"grad-worst\"")).find("class=\"marks\""),
            std::string::npos)
      << "the gradient chart drew nothing";
  const std::string first =
      match(sec.substr(sec.find("id=\"grad-worst\"")), "<tr class=\"fail\">(.*?)</tr>");
  EXPECT_NE(first.find(">" + grad_runs().impl + "<"), std::string::npos) << first;
  EXPECT_NE(first.find(">" + grad_runs().label + "<"), std::string::npos) << first;
  EXPECT_NE(first.find(">dk_bound<"), std::string::npos) << first;
  EXPECT_NE(first.find(">12.5<"), std::string::npos) << first;
  EXPECT_NE(first.find(kGradDetail), std::string::npos) << first;

  const fs::path fwd = runs().dir / "forward_only_browser";
  ASSERT_EQ(sinkbench({"report", grad_runs().forward_only.string(), "-o", fwd.string()},
                      runs().dir / "forward_only_browser.log")
                .code,
            0);
  const auto plain = chrome(browser, fwd / "index.html", 2000, "forward_only_dom.log");
  ASSERT_EQ(plain.code, 0) << plain.output.substr(0, 2000);
  expect_rendered(plain.output);
  EXPECT_EQ(plain.output.find("id=\"gradients\""), std::string::npos);
  EXPECT_EQ(plain.output.find("id=\"grad-matrix\""), std::string::npos);
}

}  // namespace
}  // namespace sinkbench
