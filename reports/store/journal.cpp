// reports/store/journal.cpp — JSON-lines journal. Rows are objects keyed by the column names of
// reports/store/table.h (absent values left out); doubles that JSON cannot hold (nan, inf) are
// written as strings; finite doubles round-trip exactly through nlohmann's shortest representation.
#include "reports/store/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace sinkbench {
namespace {

using nlohmann::json;

// A row as an object keyed by column name: a journal stays readable when columns are added.
json to_json(const std::vector<Column>& cols, const Row& row) {
  json out = json::object();
  for (size_t c = 0; c < cols.size(); ++c) {
    const Value& v = row.at(c);
    if (const auto* s = std::get_if<std::string>(&v)) {
      out[cols[c].name] = *s;
    } else if (const auto* i = std::get_if<int64_t>(&v)) {
      out[cols[c].name] = *i;
    } else if (const auto* d = std::get_if<double>(&v)) {
      if (std::isfinite(*d))
        out[cols[c].name] = *d;
      else
        out[cols[c].name] = std::isnan(*d) ? "nan" : (*d > 0 ? "inf" : "-inf");
    }  // Absent: left out
  }
  return out;
}

Value value_of(const json& v, const Column& col) {
  switch (col.kind) {
    case Kind::str:
      return v.get<std::string>();
    case Kind::i64:
      return v.get<int64_t>();
    case Kind::f64:
      if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (s == "nan") return double(NAN);
        if (s == "inf") return double(INFINITY);
        if (s == "-inf") return -double(INFINITY);
        throw std::runtime_error("column '" + col.name + "' holds '" + s + "', not a number");
      }
      return v.get<double>();
  }
  return Absent{};
}

// Schema v1 journals wrote rows as arrays, one value per v1 column in order.
Row from_json(const json& j, const std::vector<Column>& cols) {
  Row row(cols.size());
  if (j.is_array()) {
    std::vector<size_t> v1;
    for (size_t c = 0; c < cols.size(); ++c)
      if (cols[c].since == 1) v1.push_back(c);
    if (j.size() != v1.size())
      throw std::runtime_error("a row has " + std::to_string(j.size()) + " values, expected " +
                               std::to_string(v1.size()));
    for (size_t k = 0; k < v1.size(); ++k)
      row[v1[k]] = value_of(j[k], cols[v1[k]]);
  } else {
    if (!j.is_object()) throw std::runtime_error("a row is neither an object nor an array");
    for (size_t c = 0; c < cols.size(); ++c)
      if (const auto it = j.find(cols[c].name); it != j.end()) row[c] = value_of(*it, cols[c]);
  }
  for (size_t c = 0; c < cols.size(); ++c)
    if (const std::string want = implausible(cols[c], row[c]); !want.empty())
      throw std::runtime_error("column '" + cols[c].name + "' holds " + to_text(row[c]) +
                               ", expected " + want);
  return row;
}

std::string record_line(const CaseRecord& rec) {
  json results = json::array();
  for (const Row& r : rec.results)
    results.push_back(to_json(result_columns(), r));
  json j = {{"case", to_json(case_columns(), rec.case_row)}, {"results", results}};
  return j.dump() + "\n";
}

void write_all(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw InputError(path, std::string("cannot write: ") + std::strerror(errno),
                       "a writable results directory");
    done += size_t(n);
  }
}

}  // namespace

Journal Journal::create(const std::string& path, const nlohmann::json& header,
                        const std::vector<CaseRecord>& replay) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw InputError(path, std::string("cannot create the run journal: ") + std::strerror(errno),
                     "a writable directory for -o");
  std::string text = json{{"sinkbench_journal", header}}.dump() + "\n";
  for (const CaseRecord& r : replay)
    text += record_line(r);
  write_all(fd, text, tmp);
  ::fsync(fd);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw InputError(path, std::string("cannot rename the run journal: ") + std::strerror(errno),
                     "a writable directory for -o");
  Journal j;
  j.path_ = path;
  j.fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (j.fd_ < 0)
    throw InputError(path, std::string("cannot open the run journal: ") + std::strerror(errno),
                     "a writable directory for -o");
  return j;
}

Journal::Journal(Journal&& o) noexcept
    : fd_(o.fd_), path_(std::move(o.path_)), seconds_(o.seconds_) {
  o.fd_ = -1;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::commit(const CaseRecord& rec) {
  const auto t0 = std::chrono::steady_clock::now();
  // One write(2) per case: a kill leaves either the whole line or an unterminated prefix.
  write_all(fd_, record_line(rec), path_);
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

JournalContents read_journal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot read the run journal", "a readable file");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  JournalContents out;
  size_t pos = 0;
  int line = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (end == std::string::npos) {  // the case in flight when the process died
      out.dropped_tail = true;
      break;
    }
    ++line;
    const std::string where = path + ":" + std::to_string(line);
    try {
      const json j = json::parse(text.substr(pos, end - pos));
      if (line == 1) {
        if (!j.contains("sinkbench_journal")) throw std::runtime_error("no journal header");
        out.header = j["sinkbench_journal"];
        const int64_t v = out.header.value("schema_version", int64_t(0));
        if (v < 1 || v > kSchemaVersion)
          throw InputError(path,
                           "is a journal of results schema version " + std::to_string(v) +
                               "; this sinkbench reads schema versions 1 to " +
                               std::to_string(kSchemaVersion),
                           "a journal written by this or an earlier sinkbench");
      } else {
        CaseRecord rec;
        rec.case_row = from_json(j.at("case"), case_columns());
        for (const json& r : j.at("results"))
          rec.results.push_back(from_json(r, result_columns()));
        out.records.push_back(std::move(rec));
      }
    } catch (const InputError&) {
      throw;
    } catch (const std::exception& e) {
      throw InputError(where, std::string("corrupt run journal line: ") + e.what(),
                       "a journal written by sinkbench (delete it and its .partial to start over)");
    }
    pos = end + 1;
  }
  if (line == 0)
    throw InputError(path, "is an empty run journal", "a journal written by sinkbench");
  return out;
}

}  // namespace sinkbench
