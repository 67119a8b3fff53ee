// tests/fuzz/suite_parser_fuzz.cpp — libFuzzer harness of the suite parser (cases/suite.cpp) and
// the filter language it uses for `exclude`. The text is parsed as a suite in a scratch file next
// to nothing else (so `include:` finds no suite), then its cases are expanded with the filter
// written after "#!" on the input's first line (a YAML comment), and each case's memory is
// estimated. Anything but a value or an InputError is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cases/filter.h"
#include "cases/resources.h"
#include "cases/suite.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const std::string first = text.substr(0, text.find('\n'));
    const sinkbench::Filter filter =
        sinkbench::Filter::parse(first.starts_with("#!") ? first.substr(2) : "");
    const sinkbench::Suite suite = sinkbench::parse_suite(text, "/nonexistent/fuzz.yaml");
    for (const sinkbench::CaseSpec& c : sinkbench::expand(suite, filter))
      (void)sinkbench::estimate_memory(c);
  } catch (const sinkbench::InputError&) {
  }
  return 0;
}
