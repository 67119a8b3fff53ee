// tools/sinkbench/main.cpp — the `sinkbench` command line: subcommands and exit codes
// (0 success, 1 a failed verdict, 2 bad usage or input).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "cases/suite.h"
#include "core/device.h"
#include "core/error.h"
#include "oracle/oracle.h"

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
    const double flops = r.rows.complete ? 4.0 * c.head_dim * visible_pairs(c) : NAN;
    fmt::print("{:<18} {:<44} {:>8} {:>10.4g} {:>4.1f}..{:<4.1f} {:>11.2f} {:>9.2f}\n", case_id(c),
               case_label(c), r.rows.size(), max_o, lo, hi, sec * 1e3, flops / sec / 1e9);
  }
  return 0;
}

}  // namespace
}  // namespace sinkbench

int main(int argc, char** argv) {
  using namespace sinkbench;
  CLI::App app{"sinkbench: verify and benchmark attention with learned sinks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(SINKBENCH_VERSION));

  OracleOptions oracle_opt;
  CLI::App* oracle = app.add_subcommand(
      "oracle", "Run the FP64 oracle on cases of a suite and print its outputs' summary");
  oracle->add_option("--suite", oracle_opt.suite, "Built-in suite name or path to a .yaml file")
      ->capture_default_str();
  oracle->add_option("--filter", oracle_opt.filter,
                     "Filter expression, e.g. dtype=bf16,mask=causal,sk>=1024");
  oracle->add_option("--limit", oracle_opt.limit, "Number of cases to evaluate")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (oracle->parsed()) return run_oracle(oracle_opt);
  } catch (const InputError& e) {
    std::fprintf(stderr, "sinkbench: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sinkbench: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
