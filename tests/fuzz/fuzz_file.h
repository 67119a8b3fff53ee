// tests/fuzz/fuzz_file.h — shared by the libFuzzer harnesses: the readers under test take a path,
// so each input is written to one scratch file per process (in $TMPDIR, /dev/shm when unset)
// that the harness reuses for every execution. The file check's time limit is set to 1 s.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sinkbench::fuzz {

inline const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/dev/shm") + "/sinkbench-fuzz-XXXXXX";
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) {
      std::perror("sinkbench fuzz: mkstemp");
      std::abort();
    }
    ::close(fd);
    std::atexit([] { ::unlink(scratch_path().c_str()); });
    // A file that sends libhdf5 in circles (or through gigabytes of a forged size) is refused
    // after this long, well within -timeout=10. An intact seed checks in ~50 ms under ASan;
    // the looping inputs the fuzzer keeps finding would otherwise cost most of its time.
    ::setenv("SINKBENCH_VERIFY_SECONDS", "1", 0);
    return tmpl;
  }();
  return path;
}

// Writes the input to the scratch file and returns its path.
inline const std::string& write_scratch(const uint8_t* data, size_t size) {
  const std::string& path = scratch_path();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
    std::perror("sinkbench fuzz: writing the scratch file");
    std::abort();
  }
  return path;
}

}  // namespace sinkbench::fuzz
