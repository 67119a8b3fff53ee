// core/error.cpp — message formatting for the error types.
#include "core/error.h"

namespace sinkbench {

std::string describe_error(const std::string& where, const std::string& what,
                           const std::string& expected) {
  std::string msg = where.empty() ? what : where + ": " + what;
  if (!expected.empty()) msg += " (expected " + expected + ")";
  return msg;
}

InputError::InputError(const std::string& where, const std::string& what,
                       const std::string& expected)
    : std::runtime_error(describe_error(where, what, expected)) {}

}  // namespace sinkbench
