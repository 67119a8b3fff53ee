// reports/store/provenance.cpp — gathers provenance from the build, git, /proc and the CUDA device.
#include "reports/store/provenance.h"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "oracle/verdict.h"

#ifndef SINKBENCH_SOURCE_DIR
#define SINKBENCH_SOURCE_DIR "."
#endif
#ifndef SINKBENCH_GIT_SHA
#define SINKBENCH_GIT_SHA ""
#endif
#ifndef SINKBENCH_VERSION
#define SINKBENCH_VERSION "unknown"
#endif
#ifndef SINKBENCH_CXX_FLAGS
#define SINKBENCH_CXX_FLAGS ""
#endif

namespace sinkbench {
namespace {

// stdout of a shell command, trailing newline removed; nullopt if it fails.
std::optional<std::string> command_output(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  std::array<char, 256> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p))
    out.append(buf.data(), n);
  if (::pclose(p) != 0) return std::nullopt;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out;
}

std::string git(const std::string& args) {
  // --no-optional-locks: reading the state must not write the index of a shared checkout.
  const auto out = command_output("git --no-optional-locks -C '" SINKBENCH_SOURCE_DIR "' " + args +
                                  " 2>/dev/null");
  return out.value_or("\x01");
}

std::pair<std::string, std::string> git_state() {
  const std::string sha = git("rev-parse HEAD");
  if (sha == "\x01" || sha.empty())
    return {std::string(SINKBENCH_GIT_SHA).empty() ? "unknown" : SINKBENCH_GIT_SHA, "unknown"};
  const std::string status = git("status --porcelain --untracked-files=no");
  if (status == "\x01") return {sha, "unknown"};
  return {sha, status.empty() ? "clean" : "dirty"};
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string host_name() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? buf : "unknown";
}

std::string cuda_version(int v) {
  return v > 0 ? fmt::format("{}.{}", v / 1000, (v % 1000) / 10) : "none";
}

}  // namespace

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Attributes provenance(const std::string& command_line, const DeviceInfo& gpu) {
  const auto [sha, dirty] = git_state();
  return {
    {"schema_version", int64_t(kSchemaVersion)}, {"policy_version", int64_t(kPolicyVersion)},
        {"tool", std::string("sinkbench")}, {"tool_version", std::string(SINKBENCH_VERSION)},
        {"git_sha", sha}, {"git_state", dirty},
#if defined(__clang__)
        {"compiler", std::string("clang ") + __VERSION__},
#elif defined(__GNUC__)
        {"compiler", std::string("g++ ") + __VERSION__},
#else
        {"compiler", std::string(__VERSION__)},
#endif
        {"compiler_flags", std::string(SINKBENCH_CXX_FLAGS)},
        {"cuda_runtime", cuda_version(gpu.runtime_version)},
        {"cuda_driver", cuda_version(gpu.driver_version)}, {"gpu", describe_device(gpu)},
        {"gpu_sm", gpu.present ? fmt::format("sm_{}{}", gpu.sm_major, gpu.sm_minor) : "none"},
        {"gpu_sm_clock_mhz", gpu.sm_clock_mhz}, {"gpu_mem_clock_mhz", gpu.mem_clock_mhz},
        {"cpu", cpu_model()}, {"host", host_name()}, {"command_line", command_line},
        {"start_time", utc_now()},
  };
}

}  // namespace sinkbench
