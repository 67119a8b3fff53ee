// tests/tools/help_test.cpp — `sinkbench <command> --help` answers what a command takes: the
// suites, implementations and filter fields and operators this binary knows (read from the same
// lists the commands check against), and defaults inside the project shown relative to it.
#include <gtest/gtest.h>

#include <string>

#include "cases/filter.h"
#include "cases/suite.h"
#include "impls/impl.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

std::string help_of(const std::vector<std::string>& command) {
  std::vector<std::string> args = {SINKBENCH_BIN};
  args.insert(args.end(), command.begin(), command.end());
  args.push_back("--help");
  const auto dir = test::fresh_dir("help");
  const auto r = test::run_child(args, (dir / "help.log").string());
  EXPECT_EQ(r.code, 0) << r.output;
  return r.output;
}

struct Takes {
  std::vector<std::string> command;
  bool suites, impls, filter;
};

void PrintTo(const Takes& t, std::ostream* os) {
  for (const auto& w : t.command)
    *os << w << ' ';
}

class HelpTest : public ::testing::TestWithParam<Takes> {};

TEST_P(HelpTest, ListsWhatItsOptionsAccept) {
  const Takes& t = GetParam();
  const std::string help = help_of(t.command);
  if (t.suites) {
    for (const std::string& s : list_suites())
      EXPECT_NE(help.find(s), std::string::npos) << "suite " << s << " not in:\n" << help;
  }
  if (t.impls) {
    for (const std::string& n : impl_names())
      EXPECT_NE(help.find(n), std::string::npos) << "implementation " << n << " not in:\n" << help;
  }
  if (t.filter) {
    for (const std::string& f : filter_fields())
      EXPECT_NE(help.find(" " + f), std::string::npos) << "field " << f << " not in:\n" << help;
    EXPECT_NE(help.find("= != < <= > >="), std::string::npos) << help;
  }
  // The usage line names the binary, wherever it was built; the options follow it.
  const std::string options = help.substr(help.find("Options:"));
  EXPECT_EQ(options.find(SINKBENCH_SOURCE_DIR), std::string::npos)
      << "an absolute source path in:\n"
      << options;
}

INSTANTIATE_TEST_SUITE_P(Commands, HelpTest,
                         ::testing::Values(Takes{{"run"}, true, true, true},
                                           Takes{{"bench"}, true, true, true},
                                           Takes{{"list"}, true, false, true},
                                           Takes{{"oracle"}, true, false, true},
                                           Takes{{"export"}, true, false, true},
                                           Takes{{"golden", "update"}, false, false, false}),
                         [](const ::testing::TestParamInfo<Takes>& info) {
                           std::string name;
                           for (const auto& w : info.param.command)
                             name += w;
                           return name;
                         });

// CLI11 shows a default as "=value" or "[value]" depending on its version: either way the value
// is the path relative to the project, never the absolute source path.
TEST(Help, GoldenDefaultsAreRelativeToTheProject) {
  const std::string help = help_of({"golden", "update"});
  for (const std::string path : {"cases/golden/smoke.h5", "cases/suites/golden.yaml"}) {
    EXPECT_NE(help.find(path + " (in the source tree)"), std::string::npos) << help;
    EXPECT_EQ(help.find(std::string(SINKBENCH_SOURCE_DIR) + "/" + path), std::string::npos) << help;
  }
}

}  // namespace
}  // namespace sinkbench
