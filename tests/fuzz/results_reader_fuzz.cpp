// tests/fuzz/results_reader_fuzz.cpp — libFuzzer harness of the results-file reader (reports/):
// read_store() and, when the tables read, the per-case arrays the golden diff reads. Any input
// must end in a value or an InputError; a crash, a leak, a sanitizer report or another exception
// type is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "reports/store/arrays.h"
#include "reports/store/store.h"
#include "tests/fuzz/fuzz_file.h"

namespace {

// Every case's arrays, as `sinkbench diff` reads them from a golden fixture.
void read_arrays(const sinkbench::StoredRun& run) {
  const sinkbench::ArrayFile arrays(run.path);
  if (!arrays.any()) return;
  for (size_t i = 0; i < run.cases.rows.size(); ++i) {
    const std::string& id = run.cases.text(i, "case_id");
    for (const std::string& p : arrays.list(id))
      (void)arrays.read(id, p);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = sinkbench::fuzz::write_scratch(data, size);
  try {
    const sinkbench::StoredRun run = sinkbench::read_store(path);
    read_arrays(run);
  } catch (const sinkbench::InputError&) {
  }
  return 0;
}
