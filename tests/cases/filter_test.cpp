// tests/cases/filter_test.cpp — every operator of the filter language means exactly what it
// says (on seeded random lengths around the threshold), `==` is equality, and any other run of
// operator characters is refused naming the field and the accepted operators.
#include "cases/filter.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "core/error.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

struct OperatorCase {
  const char* name;
  const char* op;
  std::function<bool(int64_t, int64_t)> holds;
};

void PrintTo(const OperatorCase& p, std::ostream* os) {
  *os << p.name;
}

class FilterOperator : public ::testing::TestWithParam<OperatorCase> {};

CaseSpec with_sq(int64_t sq) {
  CaseSpec c;
  c.seqlen_q = sq;
  return c;
}

TEST_P(FilterOperator, MatchesExactlyItsComparison) {
  const OperatorCase& p = GetParam();
  std::mt19937_64 rng(testing::test_seed());
  std::uniform_int_distribution<int64_t> dist(1, 9);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t threshold = dist(rng), sq = dist(rng);
    const Filter f = Filter::parse("sq" + std::string(p.op) + std::to_string(threshold));
    EXPECT_EQ(f.matches(with_sq(sq)), p.holds(sq, threshold))
        << "sq " << sq << " " << p.op << " " << threshold;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Numeric, FilterOperator,
    ::testing::Values(OperatorCase{"Equal", "=", std::equal_to<int64_t>()},
                      OperatorCase{"DoubleEqual", "==", std::equal_to<int64_t>()},
                      OperatorCase{"NotEqual", "!=", std::not_equal_to<int64_t>()},
                      OperatorCase{"Less", "<", std::less<int64_t>()},
                      OperatorCase{"LessEqual", "<=", std::less_equal<int64_t>()},
                      OperatorCase{"Greater", ">", std::greater<int64_t>()},
                      OperatorCase{"GreaterEqual", ">=", std::greater_equal<int64_t>()}),
    [](const ::testing::TestParamInfo<OperatorCase>& i) { return std::string(i.param.name); });

TEST(Filter, DoubleEqualIsEqualityOnTextFields) {
  CaseSpec c;
  c.dtype = DType::bf16;
  EXPECT_TRUE(Filter::parse("dtype==bf16").matches(c));
  EXPECT_FALSE(Filter::parse("dtype==fp16").matches(c));
}

std::string parse_error(const std::string& expr) {
  try {
    Filter::parse(expr);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

class UnknownOperator : public ::testing::TestWithParam<const char*> {};

TEST_P(UnknownOperator, IsRefusedNamingFieldAndAcceptedOperators) {
  const std::string op = GetParam();
  const std::string msg = parse_error("sq" + op + "4");
  EXPECT_NE(msg.find("unknown operator '" + op + "' after field 'sq'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("= (or ==), !=, <, <=, >, >="), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(Filter, UnknownOperator,
                         ::testing::Values("===", "=>", "=<", "<>", "!", "!==", "><", "<<", ">>",
                                           "=!"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           return "Case" + std::to_string(i.index);
                         });

}  // namespace
}  // namespace sinkbench
