// tests/fuzz/exchange_reader_fuzz.cpp — libFuzzer harness of the exchange-file reader that
// `sinkbench check` uses (reports/store/external.cpp, and parse_canonical of tools/sinkbench):
// opening the file, listing its cases and output groups, parsing each case's spec and reading every
// dataset and attribute check reads. Inputs are not regenerated and nothing is judged (that is
// the oracle's cost, not the reader's). Anything but a value or an InputError is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "reports/store/external.h"
#include "tests/fuzz/fuzz_file.h"
#include "tools/sinkbench/external.h"

namespace {

void read_case(const sinkbench::ExternalFile& f, const std::string& id) {
  const std::string group = "/cases/" + id;
  if (const auto text = f.text_attribute(group, "canonical")) {
    try {
      (void)sinkbench::parse_canonical(*text, f.path() + ":" + group);
    } catch (const sinkbench::InputError&) {
    }
  }
  for (const char* name : {"q", "k", "v", "sinks", "cu_seqlens_q", "cu_seqlens_k"})
    (void)f.read(group + "/" + name);
}

void read_outputs(const sinkbench::ExternalFile& f) {
  for (const std::string& impl : f.groups("/outputs")) {
    for (const std::string& id : f.groups("/outputs/" + impl)) {
      const std::string group = "/outputs/" + impl + "/" + id;
      (void)f.exists(group + "/o");
      (void)f.read(group + "/o");
      (void)f.read(group + "/lse");
      (void)f.text_attribute(group + "/o", "dtype");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = sinkbench::fuzz::write_scratch(data, size);
  try {
    const sinkbench::ExternalFile f(path);
    (void)f.text_attribute("/", "format");
    (void)f.number_attribute("/", "version");
    for (const std::string& id : f.groups("/cases"))
      read_case(f, id);
    read_outputs(f);
  } catch (const sinkbench::InputError&) {
  }
  return 0;
}
