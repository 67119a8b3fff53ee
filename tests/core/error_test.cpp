// tests/core/error_test.cpp — error messages carry where, what and what was expected.
#include "core/error.h"

#include <gtest/gtest.h>

namespace sinkbench {
namespace {

TEST(Error, InputErrorNamesPlaceValueAndExpectation) {
  const InputError e("suite.yaml:3:7", "field 'window' has value '-1'", "an integer >= 1");
  EXPECT_STREQ(e.what(),
               "suite.yaml:3:7: field 'window' has value '-1' (expected an integer >= 1)");
}

}  // namespace
}  // namespace sinkbench
