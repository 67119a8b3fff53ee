// tools/sinkbench/main.cpp — the `sinkbench` command line: subcommands (list, run, merge, oracle,
// diff, report, golden update, export, check, bench) and exit codes (0 success, 1 a failed verdict
// or a regression, 2 bad usage or input, 3 internal error).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cases/filter.h"
#include "cases/flop_model.h"
#include "cases/suite.h"
#include "core/device.h"
#include "core/error.h"
#include "impls/impl.h"
#include "oracle/oracle.h"
#include "reports/render/report.h"
#include "reports/store/diff.h"
#include "reports/store/merge.h"
#include "tools/sinkbench/bench.h"
#include "tools/sinkbench/external.h"
#include "tools/sinkbench/golden.h"
#include "tools/sinkbench/runner.h"
#include "tools/sinkbench/sweep.h"

namespace sinkbench {
namespace {

struct OracleOptions {
  std::string suite = "smoke";
  std::string filter;
  int limit = 1;
};

// Runs the FP64 oracle on the first cases of a suite and prints what it computed.
int run_oracle(const OracleOptions& opt) {
  const Suite suite = load_suite(opt.suite);
  const std::vector<CaseSpec> cases = expand(suite, Filter::parse(opt.filter));
  if (cases.empty())
    throw InputError("--filter",
                     "no case of suite '" + suite.name + "' matches '" + opt.filter + "'",
                     "a filter matching at least one case");
  const int n = std::min<int>(opt.limit, int(cases.size()));
  fmt::print("{:<18} {:<44} {:>8} {:>10} {:>10} {:>11} {:>9}\n", "case", "label", "rows", "max|o|",
             "lse range", "time ms", "GFLOP/s");
  for (int t = 0; t < n; ++t) {
    const CaseSpec& c = cases[size_t(t)];
    const Inputs in = generate(c);
    const auto start = std::chrono::steady_clock::now();
    const OracleResult r = oracle_forward(c, in);
    const double sec =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double max_o = 0, lo = INFINITY, hi = -INFINITY;
    for (double x : r.o)
      max_o = std::max(max_o, std::fabs(x));
    for (double x : r.lse)
      lo = std::min(lo, x), hi = std::max(hi, x);
    const double flops = r.rows.complete ? forward_flops(c) : NAN;
    fmt::print("{:<18} {:<44} {:>8} {:>10.4g} {:>4.1f}..{:<4.1f} {:>11.2f} {:>9.2f}\n", case_id(c),
               case_label(c), r.rows.size(), max_o, lo, hi, sec * 1e3, flops / sec / 1e9);
  }
  return 0;
}

struct ListOptions {
  std::string what;
  std::string suite = "smoke";
  std::string filter;
  std::string shard;
};

int list_impls() {
  const DeviceInfo gpu = query_device();
  if (all_impls().empty()) fmt::print("(no implementation is built into this binary yet)\n");
  for (const auto& impl : all_impls()) {
    const bool usable = impl->device() == Device::cpu || gpu.present;
    fmt::print("{:<34} {:<5} {:<12} {}\n", impl->name(), device_name(impl->device()),
               usable ? "available" : "unavailable", impl->description());
  }
  if (!gpu.present) fmt::print("# CUDA: {}\n", gpu.reason);
  return 0;
}

int list_suites() {
  for (const std::string& name : sinkbench::list_suites()) {
    const Suite s = load_suite(name);
    fmt::print("{:<10} {:>6} cases  {}\n", name, s.cases.size(), s.description);
  }
  return 0;
}

int list_cases(const ListOptions& opt) {
  const Suite suite = load_suite(opt.suite);
  const Shard shard = opt.shard.empty() ? Shard{} : parse_shard(opt.shard);
  for (const CaseSpec& c : planned_cases(suite, Filter::parse(opt.filter), shard))
    fmt::print("{}  {}\n", case_id(c), case_label(c));
  return 0;
}

int run_list(const ListOptions& opt) {
  if (opt.what == "impls") return list_impls();
  if (opt.what == "suites") return list_suites();
  return list_cases(opt);
}

// The report of a finished run; a report that cannot be written is a warning, never a change of
// the run's verdict.
void report_after_run(const RunOptions& run, const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::exists(run.out)) return;
  try {
    ReportOptions opt;
    opt.inputs = {run.out};
    opt.out_dir = dir;
    const ReportFiles f = write_report(opt);
    std::fprintf(stderr, "sinkbench: report: %s, %s\n", f.markdown.c_str(), f.html.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sinkbench: warning: no report written: %s\n", e.what());
  }
}

std::string quoted_command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    const bool plain = !a.empty() && a.find_first_of(" \t'\"$\\") == std::string::npos;
    out += (i ? " " : "") + (plain ? a : "'" + a + "'");
  }
  return out;
}

// The options subcommands share, each declared once: the same name, help, check and default
// wherever it appears. What a value may be is in the help's footer (catalogue()).
CLI::Option* add_suite(CLI::App* app, std::string& into) {
  return app->add_option("--suite", into, "Suite: a built-in name (listed below) or a .yaml path")
      ->capture_default_str();
}
CLI::Option* add_filter(CLI::App* app, std::string& into) {
  return app->add_option("--filter", into,
                         "Cases whose fields match every clause `field OP value` (fields and "
                         "operators below), e.g. dtype=bf16,mask=causal,sk>=1024");
}
CLI::Option* add_impls(CLI::App* app, std::vector<std::string>& into) {
  return app->add_option("--impl", into,
                         "Implementation(s), repeatable or comma-separated (names below; "
                         "default: all)");
}
CLI::Option* add_device(CLI::App* app, std::string& into) {
  return app->add_option("--device", into, "Devices whose implementations take part")
      ->check(CLI::IsMember({"cpu", "cuda", "all"}))
      ->capture_default_str();
}
CLI::Option* add_output(CLI::App* app, std::string& into, const std::string& what) {
  return app->add_option("-o,--output", into, what)->capture_default_str();
}
CLI::Option* add_threads(CLI::App* app, int& into) {
  return app->add_option("--threads", into, "OpenMP threads (default: OMP_NUM_THREADS or all)")
      ->check(CLI::NonNegativeNumber);
}
CLI::Option* add_shard(CLI::App* app, std::string& into) {
  return app->add_option("--shard", into,
                         "Only shard i of n (0 <= i < n), a deterministic partition by case id");
}

// Words joined by ", " and folded at 100 columns under an indent.
std::string folded(const std::vector<std::string>& words, const std::string& indent) {
  std::string out = indent, line;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string w = words[i] + (i + 1 < words.size() ? "," : "");
    if (!line.empty() && indent.size() + line.size() + 1 + w.size() > 100) {
      out += line + "\n" + indent;
      line.clear();
    }
    line += (line.empty() ? "" : " ") + w;
  }
  return out + line + "\n";
}

// What --suite, --impl and --filter accept in this binary, for the help of the commands that
// take them.
std::string catalogue(bool suites, bool impls, bool filter) {
  std::string s;
  if (suites)
    s += "\nSuites (--suite; `sinkbench list suites` describes them):\n" +
         folded(sinkbench::list_suites(), "  ");
  if (impls) {
    const std::vector<std::string> names = impl_names();
    s += "\nImplementations (--impl; `sinkbench list impls` describes them):\n" +
         (names.empty() ? std::string("  none is built into this binary\n") : folded(names, "  "));
  }
  if (filter)
    s += "\nFilter (--filter): comma-separated clauses `field OP value`, all of which must hold.\n"
         "  OP: = != < <= > >= (text fields: = and != only). Fields:\n" +
         folded(filter_fields(), "  ");
  return s;
}

// A default path inside the source tree, shown relative to it.
std::string in_project(const std::string& path) {
  const std::string root = SINKBENCH_SOURCE_DIR;
  return path.rfind(root + "/", 0) == 0 ? path.substr(root.size() + 1) + " (in the source tree)"
                                        : path;
}

}  // namespace
}  // namespace sinkbench

int main(int argc, char** argv) {
  using namespace sinkbench;
  CLI::App app{"sinkbench: verify and benchmark attention with learned sinks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(SINKBENCH_VERSION));

  ListOptions list_opt;
  CLI::App* list =
      app.add_subcommand("list", "List implementations, suites or the cases of a suite");
  list->add_option("what", list_opt.what, "impls, suites or cases")
      ->required()
      ->check(CLI::IsMember({"impls", "suites", "cases"}));
  add_suite(list, list_opt.suite);
  add_filter(list, list_opt.filter);
  add_shard(list, list_opt.shard);
  list->footer(catalogue(true, false, true));

  RunOptions run_opt;
  CLI::App* run = app.add_subcommand(
      "run",
      "Run a suite through every chosen implementation, judge each result against the FP64 "
      "oracle and write an HDF5 results file (exit 0 all pass, 1 any failure, 2 bad input)");
  add_suite(run, run_opt.suite);
  add_impls(run, run_opt.impls);
  add_device(run, run_opt.device);
  add_filter(run, run_opt.filter);
  add_output(run, run_opt.out, "Results file (HDF5)");
  run->add_flag("--keep-arrays", run_opt.keep_arrays,
                "Store inputs, oracle outputs and every implementation's o and lse per case");
  run->add_flag("--resume", run_opt.resume,
                "Continue the interrupted run of -o (or extend a finished one) with the same "
                "options");
  add_shard(run, run_opt.shard);
  add_threads(run, run_opt.threads);

  std::string report_dir;
  bool no_report = false;
  run->add_option("--report", report_dir,
                  "Folder for report.md and index.html of this run (default: report/ next to -o)");
  run->add_flag("--no-report", no_report, "Write no report");
  run->footer(catalogue(true, true, true));

  std::vector<std::string> merge_inputs;
  std::string merge_out;
  CLI::App* merge = app.add_subcommand(
      "merge",
      "Merge results files into one, in canonical order: shards of one sweep, or runs of other "
      "implementations over the same cases (ours beside `sinkbench check` results)");
  merge->add_option("inputs", merge_inputs, "Results files to merge")->required();
  add_output(merge, merge_out, "Merged results file")->required();

  std::string diff_golden, diff_run;
  DiffRules diff_rules;
  CLI::App* diff = app.add_subcommand(
      "diff",
      "Compare a run with a golden fixture case by case: oracle drift, CPU outputs not "
      "bit-identical, verdict changes, metric regressions, new and missing cases (exit 0 clean, "
      "1 regression, 2 unreadable input; rules: docs/reports.md)");
  diff->add_option("golden", diff_golden, "Golden results file, e.g. cases/golden/smoke.h5")
      ->required();
  diff->add_option("run", diff_run, "Results file to check (run with --keep-arrays for bit checks)")
      ->required();
  diff->add_option("--oracle-rel", diff_rules.oracle_rel,
                   "Allowed oracle drift, max |run - golden| / max |golden|")
      ->capture_default_str();
  diff->add_option("--growth", diff_rules.growth,
                   "A metric regresses when it grows by more than this factor...")
      ->capture_default_str();
  diff->add_option("--noise-budget", diff_rules.noise_budget,
                   "...and its policy budget in the run is at least this")
      ->capture_default_str();

  ReportOptions report_opt;
  CLI::App* report = app.add_subcommand(
      "report", "Render results files (together) into report.md and a self-contained index.html");
  report->add_option("inputs", report_opt.inputs, "Results files")->required();
  add_output(report, report_opt.out_dir, "Report folder");
  report->add_option("--web", report_opt.web_dir,
                     "Folder with the vega, vega-lite and vega-embed npm packages (default: "
                     "reports/web/node_modules)");
  report->add_option("--worst", report_opt.worst, "Rows of the worst-cases table")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  GoldenOptions golden_opt;
  golden_opt.golden = default_golden_path();
  CLI::App* golden = app.add_subcommand("golden", "Manage golden fixtures");
  golden->require_subcommand(1);
  CLI::App* golden_update = golden->add_subcommand(
      "update",
      "Regenerate a golden fixture: re-run its suite on the CPU implementations with every "
      "array, and record the reason, date and provenance in the file");
  golden_update->add_option("--why", golden_opt.why, "Why the golden changes (recorded)")
      ->required();
  golden_update->add_option("--golden", golden_opt.golden, "Fixture to rewrite")
      ->default_str(in_project(golden_opt.golden));
  golden_update->add_option("--suite", golden_opt.suite, "Suite to run (name or .yaml path)")
      ->default_str(in_project(default_golden_suite()));

  OracleOptions oracle_opt;
  CLI::App* oracle = app.add_subcommand(
      "oracle", "Run the FP64 oracle on cases of a suite and print its outputs' summary");
  add_suite(oracle, oracle_opt.suite);
  add_filter(oracle, oracle_opt.filter);
  oracle->footer(catalogue(true, false, true));
  oracle->add_option("--limit", oracle_opt.limit, "Number of cases to evaluate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  ExportOptions export_opt;
  CLI::App* exp = app.add_subcommand(
      "export",
      "Write the cases of a suite with their inputs into an HDF5 file an external "
      "implementation fills with its outputs (layout: docs/external.md)");
  add_suite(exp, export_opt.suite);
  add_filter(exp, export_opt.filter);
  add_output(exp, export_opt.out, "Exchange file to write (HDF5)");
  exp->footer(catalogue(true, false, true));

  CheckOptions check_opt;
  CLI::App* check = app.add_subcommand(
      "check",
      "Judge the outputs an external tool wrote into an exported file against the FP64 oracle "
      "with the policy of `run`; write a results file with device \"external\" (exit 0 all "
      "pass, 1 any failure or missing/misshapen output, 2 bad or tampered input)");
  check->add_option("input", check_opt.input, "Exchange file filled with outputs")->required();
  add_output(check, check_opt.out, "Results file (HDF5, as `run` writes)");
  check->add_option("--impl", check_opt.impls,
                    "Output groups (/outputs/<impl>) to judge, repeatable (default: all)");
  add_threads(check, check_opt.threads);

  BenchOptions bench_opt;
  CLI::App* bench = app.add_subcommand(
      "bench",
      "Time the forward pass of every chosen implementation on the cases of a suite (Google "
      "Benchmark; median of the implementation's own timings, TFLOP/s and GB/s, and on GPUs "
      "their share of the measured copy bandwidth and GEMM peak) into a bench table; with "
      "--compare, judge each (case, impl) against a base file (exit 0 nothing "
      "slower, 1 slower or a failed forward, 2 bad input; layout and rule: docs/results.md)");
  add_suite(bench, bench_opt.suite);
  add_filter(bench, bench_opt.filter);
  add_impls(bench, bench_opt.impls);
  add_device(bench, bench_opt.device);
  bench
      ->add_option("--min-time", bench_opt.min_time,
                   "Seconds of timed iterations per benchmark and repetition; the default "
                   "times the smoke suite in about a minute with medians of as few as one "
                   "iteration (noise: docs/results.md); 0.5 or more, with --repetitions, for "
                   "comparisons")
      ->capture_default_str();
  bench->add_option("--repetitions", bench_opt.repetitions, "Repetitions of each benchmark")
      ->capture_default_str();
  add_threads(bench, bench_opt.threads);
  add_output(bench, bench_opt.out, "Bench file to write (HDF5)");
  bench->footer(catalogue(true, true, true));
  bench->add_option("--json", bench_opt.json, "Also write Google Benchmark's JSON to this file");
  bench->add_option("--compare", bench_opt.compare,
                    "Base bench file: print new/base per (case, impl) with a verdict");
  bench->add_option("--results", bench_opt.results,
                    "With --compare: compare this bench file instead of running");
  bench
      ->add_option("--tolerance", bench_opt.tolerance,
                   "Relative change of the median counted as noise (and the margin of the "
                   "range test)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  const std::string command_line = quoted_command_line(argc, argv);
  try {
    if (list->parsed()) return run_list(list_opt);
    if (run->parsed()) {
      run_opt.command_line = command_line;
      const int rc = run_sweep(run_opt);
      if (!no_report)
        report_after_run(
            run_opt,
            report_dir.empty()
                ? (std::filesystem::absolute(run_opt.out).parent_path() / "report").string()
                : report_dir);
      return rc;
    }
    if (diff->parsed()) {
      const DiffResult d = diff_runs(diff_golden, diff_run, diff_rules);
      std::fputs(render_diff(d).c_str(), stdout);
      return d.regressions() > 0 ? 1 : 0;
    }
    if (report->parsed()) {
      const ReportFiles f = write_report(report_opt);
      std::printf("%s\n%s\n", f.markdown.c_str(), f.html.c_str());
      return 0;
    }
    if (golden_update->parsed()) {
      golden_opt.command_line = command_line;
      return update_golden(golden_opt);
    }
    if (merge->parsed()) {
      merge_runs(merge_inputs, merge_out, command_line);
      std::printf("%s: merged %zu files\n", merge_out.c_str(), merge_inputs.size());
      return 0;
    }
    if (oracle->parsed()) return run_oracle(oracle_opt);
    if (exp->parsed()) {
      export_opt.command_line = command_line;
      return run_export(export_opt);
    }
    if (bench->parsed()) {
      bench_opt.command_line = command_line;
      return run_bench(bench_opt);
    }
    if (check->parsed()) {
      check_opt.command_line = command_line;
      return run_check(check_opt);
    }
  } catch (const InputError& e) {
    std::fprintf(stderr, "sinkbench: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sinkbench: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
