// tests/fuzz/hdf5_fuzz_options.cpp — the sanitizer defaults of the two HDF5 harnesses
// (results_reader_fuzz, exchange_reader_fuzz), linked into those executables only; ASAN_OPTIONS
// still overrides each. Every execution forks the file check's child (verify_hdf5_file):
// - quarantine_size_mb=16: a fork costs in proportion to the parent's mapped memory, and ASan's
//   default 256 MiB quarantine of freed blocks grows the harness to ~360 MiB within a minute.
//   An execution of a seed frees under 2 MiB, so 16 MiB holds the blocks of the last several
//   inputs: a use after free is missed only if more than 16 MiB were freed in between.
// - allocator_may_return_null=1, max_allocation_size_mb=1024: libFuzzer's malloc limit is a hook
//   the checking child inherits, so a corrupt size that made libhdf5 ask for gigabytes in the
//   child wrote an "oom-" artifact and printed libFuzzer's out-of-memory error there, although
//   the harness went on (the child's failure is the file check's refusal). Such a malloc now
//   returns null, which libhdf5 reports as an error, in either process; C++ `new` of that size
//   still ends in ASan's out-of-memory report, a finding. Keep -rss_limit_mb above 1024.
extern "C" const char* __asan_default_options() {
  return "quarantine_size_mb=16:allocator_may_return_null=1:max_allocation_size_mb=1024";
}
