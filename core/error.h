// core/error.h — error types. Every message says where (file:line, field or argument), what was
// found and what was expected, so a user can fix the input without reading code.
#pragma once

#include <stdexcept>
#include <string>

namespace sinkbench {

// Bad user input (suite file, filter, CLI argument, results file): exit code 2.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& where, const std::string& what, const std::string& expected);
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// A broken invariant inside sinkbench itself.
class InternalError : public std::runtime_error {
 public:
  explicit InternalError(const std::string& message) : std::runtime_error(message) {}
};

// Formats "where: what (expected: expected)".
std::string describe_error(const std::string& where, const std::string& what,
                           const std::string& expected);

}  // namespace sinkbench
