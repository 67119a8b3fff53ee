// tests/cases/suite_test.cpp — suite expansion, exclusions, filters, and the errors a malformed
// suite or filter produces (file:line and field named, exit-code class InputError).
#include "cases/suite.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace sinkbench {
namespace {

std::string load_error(const std::string& text) {
  try {
    parse_suite(text, "t.yaml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Suite, ProductOfAxesWithExclusionsAndExtraCases) {
  const Suite s = parse_suite(R"(
name: t
base: {heads_q: 8, head_dim: 64, sink: band:4:8}
axes:
  dtype: [fp32, fp16, bf16]
  mask: [none, causal, {mask: sliding_window, window: 7}]
  gqa: [1, 8]
cases:
  - {dtype: bf16, sq: 1, sk: 4097, gqa: 8}
exclude: ["dtype=fp32,mask=none"]
)",
                              "t.yaml");
  EXPECT_EQ(s.name, "t");
  ASSERT_EQ(s.cases.size(), 3u * 3 * 2 - 2 + 1);
  EXPECT_EQ(s.cases.front().dtype, DType::f32);
  EXPECT_EQ(s.cases.front().mask.kind, MaskKind::causal);
  EXPECT_EQ(s.cases.front().heads_kv, 8);
  EXPECT_EQ(s.cases[1].heads_kv, 1);
  EXPECT_EQ(s.cases.back().seqlen_k, 4097);
  const auto filtered = expand(s, Filter::parse("dtype=bf16,gqa>=8,mask!=none"));
  EXPECT_EQ(filtered.size(), 2u);  // bf16, gqa 8, causal and window 7
}

TEST(Suite, ErrorsNameFileLineAndField) {
  EXPECT_EQ(load_error("axes:\n  dtype: [fp32, fp8]\n"),
            "t.yaml:2:17: field 'dtype' has value 'fp8' (expected fp32, fp16 or bf16)");
  EXPECT_NE(load_error("base: {heads_q: 8, windw: 3}\n").find("t.yaml:1:27: unknown field 'windw'"),
            std::string::npos);
  EXPECT_NE(load_error("axes:\n  sq: [12, -3]\n").find("field 'sq'"), std::string::npos);
  EXPECT_NE(load_error("axes: {dtype: [fp32}\n").find("t.yaml:1:"), std::string::npos);
  EXPECT_NE(load_error("base: {heads_q: 6, gqa: 4}\n").find("field 'gqa'"), std::string::npos);
  EXPECT_NE(load_error("nme: x\n").find("unknown key 'nme'"), std::string::npos);
  EXPECT_NE(load_error("exclude: [\"colour=red\"]\n").find("unknown filter field 'colour'"),
            std::string::npos);
  EXPECT_NE(load_error("base: {window: abc}\n").find("t.yaml:1:16: field 'window' has value 'abc'"),
            std::string::npos);
}

TEST(Filter, ParsesAndRejectsClearly) {
  CaseSpec c;
  c.dtype = DType::bf16;
  c.seqlen_k = 2048;
  EXPECT_TRUE(Filter::parse("dtype=bf16,sk>=1024").matches(c));
  EXPECT_FALSE(Filter::parse("dtype=bf16,sk<1024").matches(c));
  EXPECT_TRUE(Filter::parse("").matches(c));
  EXPECT_TRUE(Filter::parse("id=" + case_id(c)).matches(c));
  auto error = [](const char* expr) {
    try {
      Filter::parse(expr);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("dtyp=bf16").find("one of id, dtype, mask"), std::string::npos);
  EXPECT_NE(error("sk>=big").find("a number"), std::string::npos);
  EXPECT_NE(error("dtype<bf16").find("= or !="), std::string::npos);
  EXPECT_NE(error("dtype").find("field OP value"), std::string::npos);
}

TEST(Suite, BuiltInSuitesLoad) {
  const std::string dir = std::string(SINKBENCH_SOURCE_DIR) + "/cases/suites";
  const auto names = list_suites(dir);
  ASSERT_FALSE(names.empty());
  for (const std::string& n : names) {
    const Suite s = load_suite(n, dir);
    EXPECT_FALSE(s.cases.empty()) << n;
  }
  try {
    load_suite("nosuch", dir);
    ADD_FAILURE() << "unknown suite accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown suite 'nosuch'"), std::string::npos);
  }
}

TEST(Suite, IncludeJoinsSuitesOnceAndReportsBadIncludes) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("sinkbench_include_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct RemoveAtEnd {
    fs::path p;
    ~RemoveAtEnd() { fs::remove_all(p); }
  } remove_dir{dir};
  std::ofstream(dir / "a.yaml") << "base: {head_dim: 32}\naxes:\n  dtype: [fp32, bf16]\n";
  std::ofstream(dir / "b.yaml") << "base: {head_dim: 32}\naxes:\n  dtype: [bf16, fp16]\n";
  std::ofstream(dir / "u.yaml") << "include: [a, b]\ncases: [{dtype: fp16, sq: 7}]\n";
  std::ofstream(dir / "loop.yaml") << "include: [loop]\n";
  std::ofstream(dir / "missing.yaml") << "include: [nowhere]\n";
  const Suite u = load_suite_file((dir / "u.yaml").string());
  ASSERT_EQ(u.cases.size(), 4u);  // fp32, bf16, fp16 (bf16 of b counted once), fp16 sq 7
  EXPECT_EQ(u.cases[0].dtype, DType::f32);
  EXPECT_EQ(u.cases[2].dtype, DType::f16);
  EXPECT_EQ(u.cases[3].seqlen_q, 7);
  auto error = [&](const char* name) {
    try {
      load_suite_file((dir / name).string());
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("loop.yaml").find("a cycle?"), std::string::npos);
  EXPECT_NE(error("missing.yaml").find("include 'nowhere'"), std::string::npos);
  EXPECT_NE(error("missing.yaml").find("unknown suite 'nowhere'"), std::string::npos);
  const Suite full = load_suite("full");
  size_t parts = 0;
  for (const char* name : {"smoke", "edge", "gpt-oss", "long"})
    parts += load_suite(name).cases.size();
  EXPECT_GT(full.cases.size(), 0u);
  EXPECT_LE(full.cases.size(), parts);
  fs::remove_all(dir);
}

struct BadSuite {
  const char* name;
  const char* yaml;
  const char* message;  // the error must contain it: file:line:column, field and expectation
};

void PrintTo(const BadSuite& p, std::ostream* os) {
  *os << p.name;
}

class SuiteRefuses : public ::testing::TestWithParam<BadSuite> {};

TEST_P(SuiteRefuses, NamingFileLineAndKey) {
  const std::string msg = load_error(GetParam().yaml);
  EXPECT_NE(msg.find(GetParam().message), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Suite, SuiteRefuses,
    ::testing::Values(
        BadSuite{"DuplicateTopLevelKey", "name: a\nbase: {sq: 4}\nname: b\n",
                 "t.yaml:3:1: duplicate key 'name' in the suite (expected each key once)"},
        BadSuite{"DuplicateFieldInBase", "base: {sq: 4, sk: 8, sq: 16}\n",
                 "t.yaml:1:22: duplicate key 'sq' in a case map"},
        BadSuite{"DuplicateAxis", "axes:\n  sq: [1, 2]\n  sq: [3]\n",
                 "t.yaml:3:3: duplicate key 'sq' in 'axes'"},
        BadSuite{"MapAsKey", "base: {? {sq: 1} : 2}\n",
                 "t.yaml:1:10: a key of a case map is a map (expected a field name)"},
        BadSuite{"ListAsTopLevelKey", "? [a, b]\n: 1\n",
                 "t.yaml:1:3: a key of the suite is a list (expected a field name)"},
        BadSuite{"ExcludeRemovesEveryCase", "axes:\n  dtype: [fp16, bf16]\nexclude: [\"sq>=1\"]\n",
                 "t.yaml: 'exclude' removes every one of the suite's 2 cases"},
        BadSuite{"AxesProductTooLarge",
                 "axes:\n  seed: [1,2,3,4,5,6,7,8,9,10]\n  sq: [1,2,3,4,5,6,7,8,9,10]\n"
                 "  sk: [1,2,3,4,5,6,7,8,9,10]\n  heads_q: [1,2,3,4,5,6,7,8,9,10]\n"
                 "  head_dim: [8,16,24,32,40,48,56,64,72,80]\n  batch: [1,2]\n",
                 "'axes' expand to 200000 cases"}),
    [](const ::testing::TestParamInfo<BadSuite>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace sinkbench
