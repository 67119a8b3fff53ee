// reports/store/store.cpp — HDF5 C API behind Store, read_store and the file check. Files are
// written whole (rows collected in memory, then one write under a temporary name, a read-back, a
// rename). Schema v2 stores strings as fixed-length members padded to the column's longest value
// and every table and array through the Fletcher32 filter, so every stored byte is checked on read;
// schema v1 files (variable-length strings, no checksums) are read too.
#include "reports/store/store.h"

#include <hdf5.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

// Sanitized builds (gcc's __SANITIZE_ADDRESS__, clang's __has_feature) have the sanitizers'
// interface for the checking child.
#if defined(__SANITIZE_ADDRESS__)
#define SINKBENCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SINKBENCH_SANITIZED 1
#endif
#endif
#ifndef SINKBENCH_SANITIZED
#define SINKBENCH_SANITIZED 0
#endif
#if SINKBENCH_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace sinkbench {
namespace {

static_assert(std::is_same_v<hid_t, int64_t>, "hid_t is 64-bit from HDF5 1.10 on");

// Table chunks hold at most this many bytes (whole rows): small enough to read cheaply, large
// enough that a results table is a handful of chunks.
constexpr size_t kChunkBytes = size_t(1) << 20;
// A file check that takes longer than this is taken as a reader caught in a corrupt file:
// 120 s, or SINKBENCH_VERIFY_SECONDS (1..3600) when set (the fuzz harnesses use a few seconds).
unsigned verify_seconds() {
  static const unsigned seconds = [] {
    const char* env = std::getenv("SINKBENCH_VERIFY_SECONDS");
    if (env == nullptr || *env == '\0') return 120u;
    char* end = nullptr;
    const unsigned long v = std::strtoul(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 3600)
      throw InputError("SINKBENCH_VERIFY_SECONDS", "is '" + std::string(env) + "'",
                       "a whole number of seconds from 1 to 3600");
    return unsigned(v);
  }();
  return seconds;
}

// Closes an HDF5 handle of any kind when it leaves scope.
class Handle {
 public:
  explicit Handle(hid_t id = -1) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ < 0) return;
    switch (H5Iget_type(id_)) {
      case H5I_FILE:
        H5Fclose(id_);
        break;
      case H5I_GROUP:
        H5Gclose(id_);
        break;
      case H5I_DATATYPE:
        H5Tclose(id_);
        break;
      case H5I_DATASPACE:
        H5Sclose(id_);
        break;
      case H5I_DATASET:
        H5Dclose(id_);
        break;
      case H5I_ATTR:
        H5Aclose(id_);
        break;
      case H5I_GENPROP_LST:
        H5Pclose(id_);
        break;
      default:
        break;
    }
  }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  hid_t release() {
    const hid_t id = id_;
    id_ = -1;
    return id;
  }

 private:
  hid_t id_;
};

// HDF5 prints its own error stack by default; sinkbench reports errors itself.
void silence_hdf5() {
  static const bool once = [] { return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0; }();
  (void)once;
}

hid_t check(hid_t id, const std::string& path, const std::string& what) {
  if (id < 0) throw InputError(path, "HDF5 could not " + what, "a writable, valid results file");
  return id;
}
void check(herr_t rc, const std::string& path, const std::string& what) {
  if (rc < 0) throw InputError(path, "HDF5 could not " + what, "a writable, valid results file");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- writing ----

// A fixed-length UTF-8 string of `size` bytes, zero-padded (h5py reads it as bytes).
hid_t fixed_string_type(size_t size) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, std::max<size_t>(size, 1));
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

hid_t file_number_type(Kind k) {
  return k == Kind::i64 ? H5T_STD_I64LE : H5T_IEEE_F64LE;
}
hid_t native_number_type(Kind k) {
  return k == Kind::i64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
}

void write_attribute(hid_t obj, const std::string& name, const Value& v, const std::string& path) {
  if (std::holds_alternative<Absent>(v)) return;
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle space(H5Screate(H5S_SCALAR));
  if (const auto* s = std::get_if<std::string>(&v)) {
    // Fixed-length: the value lives in the (checksummed) object header, not the global heap.
    Handle type(fixed_string_type(s->size()));
    Handle a(check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), path,
                   "create attribute " + name));
    std::string padded = *s;
    padded.resize(std::max<size_t>(s->size(), 1), '\0');
    check(H5Awrite(a, type, padded.data()), path, "write attribute " + name);
    return;
  }
  const Kind k = std::holds_alternative<int64_t>(v) ? Kind::i64 : Kind::f64;
  Handle a(
      check(H5Acreate2(obj, name.c_str(), file_number_type(k), space, H5P_DEFAULT, H5P_DEFAULT),
            path, "create attribute " + name));
  if (k == Kind::i64)
    check(H5Awrite(a, H5T_NATIVE_INT64, &std::get<int64_t>(v)), path, "write " + name);
  else
    check(H5Awrite(a, H5T_NATIVE_DOUBLE, &std::get<double>(v)), path, "write " + name);
}

// The members of one stored table: the columns every row has a value for.
struct Member {
  size_t column;
  Kind kind;
  size_t offset, size;
};

std::vector<Member> members_of(const std::vector<Column>& cols, const std::vector<Row>& rows) {
  std::vector<Member> out;
  size_t offset = 0;
  for (size_t c = 0; c < cols.size(); ++c) {
    size_t size = 8;
    bool present = true;
    for (const Row& r : rows) {
      const Value& v = r.at(c);
      if (std::holds_alternative<Absent>(v)) present = false;
      if (const auto* s = std::get_if<std::string>(&v); s && cols[c].kind == Kind::str)
        size = std::max(size, s->size());
      if (!std::holds_alternative<Absent>(v) && !implausible({"", cols[c].kind}, v).empty())
        throw InternalError("column '" + cols[c].name + "' holds a value of another kind");
    }
    if (!present) continue;  // the rows predate the column: it stays absent in the file
    out.push_back({c, cols[c].kind, offset, size});
    offset += size;
  }
  return out;
}

// Compound type of the members, with file (little-endian) or native number types.
hid_t compound_type(const std::vector<Column>& cols, const std::vector<Member>& members,
                    bool native) {
  size_t total = 0;
  for (const Member& m : members)
    total = m.offset + m.size;
  hid_t t = H5Tcreate(H5T_COMPOUND, std::max<size_t>(total, 1));
  for (const Member& m : members) {
    if (m.kind == Kind::str) {
      Handle s(fixed_string_type(m.size));
      H5Tinsert(t, cols[m.column].name.c_str(), m.offset, s);
    } else {
      H5Tinsert(t, cols[m.column].name.c_str(), m.offset,
                native ? native_number_type(m.kind) : file_number_type(m.kind));
    }
  }
  return t;
}

std::vector<char> pack(const std::vector<Member>& members, const std::vector<Row>& rows,
                       size_t row_size) {
  std::vector<char> buf(row_size * rows.size(), '\0');
  for (size_t r = 0; r < rows.size(); ++r) {
    char* row = buf.data() + r * row_size;
    for (const Member& m : members) {
      const Value& v = rows[r][m.column];
      if (const auto* s = std::get_if<std::string>(&v))
        std::memcpy(row + m.offset, s->data(), s->size());
      else if (const auto* i = std::get_if<int64_t>(&v))
        std::memcpy(row + m.offset, i, 8);
      else
        std::memcpy(row + m.offset, &std::get<double>(v), 8);
    }
  }
  return buf;
}

// Chunked (the filters need chunks), deflated and Fletcher32-checksummed dataset properties.
hid_t checked_dcpl(int rank, const hsize_t* chunk, bool shuffle) {
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, rank, chunk);
  if (shuffle) H5Pset_shuffle(dcpl);
  if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) H5Pset_deflate(dcpl, 4);
  H5Pset_fletcher32(dcpl);
  return dcpl;
}

void write_table(hid_t file, const std::string& name, const std::vector<Column>& cols,
                 const std::vector<Row>& rows, const std::string& path) {
  const std::vector<Member> members = members_of(cols, rows);
  Handle ftype(compound_type(cols, members, false));
  Handle mtype(compound_type(cols, members, true));
  const size_t row_size = H5Tget_size(mtype);
  const hsize_t n = rows.size();
  const hsize_t dims[1] = {n};
  const hsize_t chunk[1] = {std::max<hsize_t>(1, std::min<hsize_t>(n, kChunkBytes / row_size))};
  Handle space(H5Screate_simple(1, dims, nullptr));
  Handle dcpl(checked_dcpl(1, chunk, false));
  Handle d(check(H5Dcreate2(file, name.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), path,
                 "create the '" + name + "' table"));
  if (n == 0) return;
  const std::vector<char> buf = pack(members, rows, row_size);
  check(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), path,
        "write the '" + name + "' table");
}

hid_t elem_type(Array::Elem e) {
  switch (e) {
    case Array::Elem::f32:
      return H5T_NATIVE_FLOAT;
    case Array::Elem::u16:
      return H5T_NATIVE_UINT16;
    case Array::Elem::f64:
      return H5T_NATIVE_DOUBLE;
    case Array::Elem::i64:
      return H5T_NATIVE_INT64;
  }
  return H5T_NATIVE_DOUBLE;
}

hid_t intermediate_groups() {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}

void write_array(hid_t file, const std::string& case_id, const Array& a, const std::string& path) {
  const std::string name = "/arrays/" + case_id + "/" + a.path;
  std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  Handle lcpl(intermediate_groups());
  // One chunk per array, byte-shuffled and deflated (float arrays shrink by about a third, which
  // keeps golden fixtures small) and checksummed; an empty array has no byte to check.
  const bool nonempty = !dims.empty() && std::find(dims.begin(), dims.end(), 0) == dims.end();
  Handle dcpl(nonempty ? checked_dcpl(int(dims.size()), dims.data(), true)
                       : H5Pcreate(H5P_DATASET_CREATE));
  Handle d(check(H5Dcreate2(file, name.c_str(), elem_type(a.elem), space, lcpl, dcpl, H5P_DEFAULT),
                 path, "create array " + name));
  if (nonempty)
    check(H5Dwrite(d, elem_type(a.elem), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.bytes.data()), path,
          "write array " + name);
  write_attribute(d, "dtype", a.dtype, path);
}

void copy_case_arrays(hid_t file, const ArraySource& src, const std::string& path) {
  Handle from(H5Fopen(src.copy_from.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (from < 0)
    throw InputError(src.copy_from, "cannot be opened to copy the arrays of case " + src.case_id,
                     "a readable results file");
  const std::string name = "/arrays/" + src.case_id;
  Handle lcpl(intermediate_groups());
  check(H5Ocopy(from, name.c_str(), file, name.c_str(), H5P_DEFAULT, lcpl), path,
        "copy " + name + " from " + src.copy_from);
}

struct TableToWrite {
  std::string name;
  const std::vector<Column>& columns;
  const std::vector<Row>& rows;
};

// Writes the whole file under <path>.writing, checks it (every object read back in a child
// process) when `verify`, then renames it onto `path`.
void write_file_atomically(const std::string& path, const Attributes& attrs,
                           const std::vector<TableToWrite>& tables,
                           const std::vector<ArraySource>& arrays, bool verify) {
  silence_hdf5();
  const std::string tmp = path + ".writing";
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  try {
    {
      // The 1.10 file format (readable by HDF5 >= 1.10 and h5py): checksummed metadata, compact
      // object headers and a single-chunk index for the many small per-case arrays.
      Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
      H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
      Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
      if (file < 0) throw InputError(path, "cannot create " + tmp, "a writable path (check -o)");
      for (const auto& [name, value] : attrs)
        write_attribute(file, name, value, path);
      for (const TableToWrite& t : tables)
        write_table(file, t.name, t.columns, t.rows, path);
      for (const ArraySource& src : arrays) {
        for (const Array& a : src.arrays)
          write_array(file, src.case_id, a, path);
        if (!src.copy_from.empty()) copy_case_arrays(file, src, path);
      }
      check(H5Fclose(file.release()), path, "close " + tmp);
    }
    if (verify) verify_hdf5_file(tmp);
    std::filesystem::rename(tmp, path, ec);
    if (ec)
      throw InputError(path, "cannot rename " + tmp + " onto it: " + ec.message(), "a writable -o");
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

// ---- reading ----

Value read_attribute(hid_t obj, const char* name) {
  Handle a(H5Aopen(obj, name, H5P_DEFAULT));
  Handle ftype(H5Aget_type(a));
  if (a < 0 || ftype < 0) return Absent{};
  if (H5Tget_class(ftype) == H5T_STRING) {
    if (H5Tis_variable_str(ftype) > 0) {
      Handle mtype(H5Tcopy(H5T_C_S1));
      H5Tset_size(mtype, H5T_VARIABLE);
      H5Tset_cset(mtype, H5Tget_cset(ftype));
      char* p = nullptr;
      if (H5Aread(a, mtype, &p) < 0) return Absent{};
      std::string s = p ? p : "";
      Handle space(H5Aget_space(a));
      H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &p);
      return s;
    }
    std::string s(H5Tget_size(ftype), '\0');
    if (H5Aread(a, ftype, s.data()) < 0) return Absent{};
    return s.substr(0, s.find('\0'));
  }
  if (H5Tget_class(ftype) == H5T_INTEGER) {
    int64_t v = 0;
    if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0) return Absent{};
    return v;
  }
  double v = 0;
  if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) return Absent{};
  return v;
}

herr_t collect_attribute(hid_t obj, const char* name, const H5A_info_t*, void* out) {
  const Value v = read_attribute(obj, name);
  if (!std::holds_alternative<Absent>(v)) static_cast<Attributes*>(out)->emplace_back(name, v);
  return 0;
}

Attributes read_attributes(hid_t obj) {
  Attributes out;
  hsize_t idx = 0;
  H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_attribute, &out);
  return out;
}

// How one stored member of a table is read back.
struct ReadMember {
  size_t column;
  Kind kind;
  bool variable;  // a variable-length string (schema v1)
  size_t offset, size;
  H5T_cset_t cset = H5T_CSET_UTF8;
};

const char* kind_name(Kind k) {
  return k == Kind::str ? "a string" : k == Kind::i64 ? "an integer" : "a floating-point number";
}

std::vector<ReadMember> stored_members(hid_t ftype, const std::vector<Column>& cols,
                                       const std::string& path, const std::string& table) {
  std::vector<ReadMember> out;
  size_t offset = 0;
  for (size_t c = 0; c < cols.size(); ++c) {
    const int idx = H5Tget_member_index(ftype, cols[c].name.c_str());
    if (idx < 0) continue;  // the file predates the column: Absent
    const H5T_class_t cls = H5Tget_member_class(ftype, unsigned(idx));
    const H5T_class_t want = cols[c].kind == Kind::str   ? H5T_STRING
                             : cols[c].kind == Kind::i64 ? H5T_INTEGER
                                                         : H5T_FLOAT;
    if (cls != want)
      throw InputError(
          path,
          "the '" + table + "' column '" + cols[c].name + "' is not " + kind_name(cols[c].kind),
          "a table of the sinkbench results schema");
    ReadMember m{c, cols[c].kind, false, offset, 8};
    if (cls == H5T_STRING) {
      Handle mt(H5Tget_member_type(ftype, unsigned(idx)));
      m.variable = H5Tis_variable_str(mt) > 0;
      m.cset = H5Tget_cset(mt);
      if (!m.variable) m.size = std::max<size_t>(H5Tget_size(mt), 1);
    }
    out.push_back(m);
    offset += m.size;
  }
  return out;
}

hid_t read_type(const std::vector<Column>& cols, const std::vector<ReadMember>& members) {
  size_t total = 0;
  for (const ReadMember& m : members)
    total = m.offset + m.size;
  hid_t t = H5Tcreate(H5T_COMPOUND, std::max<size_t>(total, 1));
  for (const ReadMember& m : members) {
    if (m.kind != Kind::str) {
      H5Tinsert(t, cols[m.column].name.c_str(), m.offset, native_number_type(m.kind));
      continue;
    }
    Handle s(H5Tcopy(H5T_C_S1));
    H5Tset_size(s, m.variable ? H5T_VARIABLE : m.size);
    if (!m.variable) H5Tset_strpad(s, H5T_STR_NULLPAD);
    H5Tset_cset(s, m.cset);  // HDF5 converts no string between character sets
    H5Tinsert(t, cols[m.column].name.c_str(), m.offset, s);
  }
  return t;
}

Value decode(const ReadMember& m, const char* slot) {
  if (m.kind == Kind::str) {
    if (!m.variable) {
      const char* end = static_cast<const char*>(std::memchr(slot, '\0', m.size));
      return std::string(slot, end ? size_t(end - slot) : m.size);
    }
    const char* p = nullptr;
    std::memcpy(&p, slot, sizeof p);
    return std::string(p ? p : "");
  }
  if (m.kind == Kind::i64) {
    int64_t v;
    std::memcpy(&v, slot, 8);
    return v;
  }
  double v;
  std::memcpy(&v, slot, 8);
  return v;
}

Table read_table(hid_t file, const std::string& name, const std::vector<Column>& cols,
                 const std::string& path) {
  Table t{cols, {}};
  if (H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0)
    throw InputError(path, "has no '" + name + "' table", "a sinkbench results file");
  Handle d(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  Handle ftype(H5Dget_type(d));
  if (d < 0 || ftype < 0 || H5Tget_class(ftype) != H5T_COMPOUND)
    throw InputError(path, "the '" + name + "' dataset is not a table", "a compound table");
  const std::vector<ReadMember> members = stored_members(ftype, cols, path, name);
  Handle space(H5Dget_space(d));
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) throw InputError(path, "the '" + name + "' table has no extent", "a table");
  t.rows.assign(size_t(n), Row(cols.size()));
  if (n == 0 || members.empty()) return t;
  Handle mtype(read_type(cols, members));
  const size_t row_size = H5Tget_size(mtype);
  std::vector<char> buf(size_t(n) * row_size);
  if (read_whole_dataset(d, mtype, size_t(n), buf.data()) < 0)
    throw InputError(path, "the '" + name + "' table cannot be read (a checksum failed: corrupt)",
                     "an intact results file");
  for (size_t r = 0; r < size_t(n); ++r)
    for (const ReadMember& m : members)
      t.rows[r][m.column] = decode(m, buf.data() + r * row_size + m.offset);
  H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf.data());
  return t;
}

int64_t integer_attribute(const StoredRun& run, const std::string& name) {
  const auto v = run.attribute(name);
  if (!v || !std::holds_alternative<int64_t>(*v))
    throw InputError(run.path, "has no integer attribute '" + name + "'",
                     "a results file written by sinkbench");
  return std::get<int64_t>(*v);
}

hid_t open_readonly(const std::string& path, const std::string& what) {
  silence_hdf5();
  if (!std::filesystem::is_regular_file(path))
    throw InputError(path, "no such " + what, "an existing .h5 file written by sinkbench");
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0)
    throw InputError(path, "is not a readable HDF5 file (corrupt or truncated?)",
                     "a " + what + " written by sinkbench");
  return file;
}

// ---- the file check ----

struct VisitState {
  std::string path;
  std::string error;
};

struct AttributeVisit {
  std::string where;
  VisitState& st;
};

herr_t read_one_attribute(hid_t obj, const char* name, const H5A_info_t*, void* data) {
  auto& v = *static_cast<AttributeVisit*>(data);
  Handle a(H5Aopen(obj, name, H5P_DEFAULT));
  Handle ftype(a >= 0 ? H5Aget_type(a) : -1);
  Handle mtype(ftype >= 0 ? H5Tget_native_type(ftype, H5T_DIR_DEFAULT) : -1);
  Handle space(a >= 0 ? H5Aget_space(a) : -1);
  const hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  std::vector<char> buf(count > 0 && mtype >= 0 ? size_t(count) * H5Tget_size(mtype) + 1 : 1);
  if (mtype < 0 || count < 0 || H5Aread(a, mtype, buf.data()) < 0) {
    v.st.error = v.where + ": attribute '" + name + "' cannot be read";
    return -1;
  }
  H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf.data());
  return 0;
}

// Reads every attribute of an object (its values pass through HDF5's checks).
bool read_every_attribute(hid_t obj, const std::string& where, VisitState& st) {
  AttributeVisit v{where, st};
  hsize_t idx = 0;
  if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, read_one_attribute, &v) < 0) {
    if (st.error.empty()) st.error = where + ": attributes cannot be listed";
    return false;
  }
  return true;
}

bool check_whole_dataset(hid_t d, const std::string& where, VisitState& st) {
  Handle ftype(H5Dget_type(d));
  Handle mtype(ftype >= 0 ? H5Tget_native_type(ftype, H5T_DIR_DEFAULT) : -1);
  Handle space(H5Dget_space(d));
  const hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (mtype < 0 || count < 0) return st.error = where + " cannot be opened", false;
  // The element count comes from the file: a forged one must not wrap the size or end the check
  // in an allocation failure that names no dataset.
  const size_t elem = H5Tget_size(mtype);
  size_t bytes = 0;
  if (elem == 0 || __builtin_mul_overflow(size_t(count), elem, &bytes) || bytes == SIZE_MAX)
    return st.error = where + " declares " + std::to_string(count) + " elements of " +
                      std::to_string(elem) + " bytes, a size no process can hold",
           false;
  std::vector<char> buf;
  try {
    buf.resize(bytes + 1);
  } catch (const std::bad_alloc&) {
    return st.error = where + " declares " + std::to_string(bytes) +
                      " bytes of data, more than this process can allocate",
           false;
  }
  if (count > 0 && read_whole_dataset(d, mtype, size_t(count), buf.data()) < 0)
    return st.error = where + " cannot be read (a checksum failed or the data is corrupt)", false;
  if (count > 0) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf.data());
  return true;
}

herr_t check_object(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  auto& st = *static_cast<VisitState*>(data);
  const std::string where = std::string(name) == "." ? "the root" : "/" + std::string(name);
  Handle obj(H5Oopen(root, name, H5P_DEFAULT));
  if (obj < 0) return st.error = where + " cannot be opened", -1;
  if (!read_every_attribute(obj, where, st)) return -1;
  if (info->type == H5O_TYPE_DATASET && !check_whole_dataset(obj, where, st)) return -1;
  return 0;
}

// The check itself, in whatever process calls it: throws InputError on any HDF5 error.
void verify_in_this_process(const std::string& path) {
  Handle file(open_readonly(path, "file"));
  VisitState st{path, ""};
  if (H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, check_object, &st) < 0)
    throw InputError(path, st.error.empty() ? "its objects cannot be listed" : st.error,
                     "an intact HDF5 file (corrupt or truncated?)");
}

std::string read_all(int fd) {
  std::string out;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

}  // namespace

// ---- Store ----

int read_whole_dataset(int64_t dataset, int64_t memory_type, size_t elements, void* buf) {
  constexpr size_t kDefaultBytes = size_t(1) << 20;  // HDF5's, the most this asks for
  Handle file_type(H5Dget_type(dataset));
  // Room for two in-memory elements per element: HDF5 refuses a buffer that cannot hold one
  // element as stored, and a variable-length string takes 16 bytes there but 8 in memory.
  const size_t element = 2 * std::max<size_t>({1, file_type >= 0 ? H5Tget_size(file_type) : 0,
                                               H5Tget_size(memory_type)});
  const size_t bytes = elements >= kDefaultBytes / element
                           ? std::max(kDefaultBytes, element)
                           : std::max<size_t>(4096, elements * element);
  Handle xfer(H5Pcreate(H5P_DATASET_XFER));
  if (xfer < 0 || H5Pset_buffer(xfer, bytes, nullptr, nullptr) < 0) return -1;
  return H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, xfer, buf);
}

Array tensor_array(std::string path, const Tensor& t) {
  const bool half = dtype_size(t.dtype()) == 2;
  Array a{std::move(path),
          half ? Array::Elem::u16 : Array::Elem::f32,
          t.shape(),
          {},
          std::string(dtype_name(t.dtype()))};
  a.bytes.assign(static_cast<const uint8_t*>(t.data()),
                 static_cast<const uint8_t*>(t.data()) + t.nbytes());
  return a;
}

namespace {
template <typename T>
Array make_array(std::string path, Array::Elem e, std::vector<int64_t> shape, const T* data,
                 size_t n, std::string dtype) {
  Array a{std::move(path), e, std::move(shape), {}, std::move(dtype)};
  a.bytes.resize(n * sizeof(T));
  if (n > 0) std::memcpy(a.bytes.data(), data, a.bytes.size());
  return a;
}
}  // namespace

Array double_array(std::string path, std::vector<int64_t> shape, const std::vector<double>& v) {
  return make_array(std::move(path), Array::Elem::f64, std::move(shape), v.data(), v.size(), "f64");
}
Array float_array(std::string path, std::vector<int64_t> shape, const std::vector<float>& v) {
  return make_array(std::move(path), Array::Elem::f32, std::move(shape), v.data(), v.size(),
                    "fp32");
}
Array int_array(std::string path, std::vector<int64_t> shape, const std::vector<int64_t>& v) {
  return make_array(std::move(path), Array::Elem::i64, std::move(shape), v.data(), v.size(), "i64");
}

Store Store::create(const std::string& path, const Attributes& attrs) {
  Store s;
  s.path_ = path;
  s.attrs_ = attrs;
  return s;
}

Store::~Store() = default;

void Store::append(const CaseRecord& rec) {
  results_.insert(results_.end(), rec.results.begin(), rec.results.end());
  cases_.push_back(rec.case_row);
  if (!rec.arrays.empty()) arrays_.push_back({rec.id(), rec.arrays, ""});
}

bool Store::copy_arrays(const std::string& src_path, const std::string& case_id) {
  if (!has_arrays(src_path, case_id)) return false;
  arrays_.push_back({case_id, {}, src_path});
  return true;
}

void Store::set_attribute(const std::string& name, const Value& v) {
  for (auto& [k, value] : attrs_)
    if (k == name) return void(value = v);
  attrs_.emplace_back(name, v);
}

void Store::close() {
  if (closed_) return;
  const auto t0 = std::chrono::steady_clock::now();
  write_file_atomically(
      path_, attrs_, {{"cases", case_columns(), cases_}, {"results", result_columns(), results_}},
      arrays_, true);
  closed_ = true;
  seconds_ += seconds_since(t0);
}

void write_case_arrays(const std::string& path, const std::string& case_id,
                       const std::vector<Array>& arrays) {
  write_file_atomically(path, {{"file_kind", std::string("case_arrays")}}, {},
                        {{case_id, arrays, ""}}, false);
}

bool case_arrays_intact(const std::string& path, const std::string& case_id) {
  if (!std::filesystem::is_regular_file(path)) return false;
  try {
    verify_hdf5_file(path);
  } catch (const InputError&) {
    return false;
  }
  return has_arrays(path, case_id);
}

namespace {

// In the checking child: a crash or the time limit ends it by its signal, which the parent
// names, whatever the host process installed. Handlers are inherited across fork (libFuzzer's
// SIGALRM handler kept a looping read alive; a crash handler, or a sanitizer's death callback,
// would run the host's crash reporting in the child).
void die_plainly_on_signals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  for (const int sig : {SIGALRM, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
    ::signal(sig, SIG_DFL);
    sigaddset(&sigs, sig);
  }
  ::sigprocmask(SIG_UNBLOCK, &sigs, nullptr);
#if SINKBENCH_SANITIZED
  __sanitizer_set_death_callback(nullptr);
#endif
}

}  // namespace

void verify_hdf5_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw InputError(path, "no such file", "an existing .h5 file written by sinkbench");
  const unsigned seconds = verify_seconds();  // read before the fork: the child only reads
  int fds[2];
  if (::pipe(fds) != 0) return verify_in_this_process(path);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return verify_in_this_process(path);
  }
  if (pid == 0) {
    // The child only reads and leaves with _exit: no atexit handler (HDF5's among them) runs
    // on the parent's open files. It keeps no descriptor of the parent's but its pipe (an
    // inherited output lock would outlive a killed parent) and dies with the parent.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (fds[1] > 3) ::close_range(3, unsigned(fds[1]) - 1, 0);
    ::close_range(unsigned(fds[1]) + 1, ~0U, 0);
    die_plainly_on_signals();
    ::alarm(seconds);
    int code = 0;
    std::string message;
    try {
      verify_in_this_process(path);
    } catch (const std::exception& e) {
      message = e.what();
      code = 2;
    }
    if (!message.empty() && ::write(fds[1], message.data(), message.size()) < 0) code = 3;
    ::_exit(code);
  }
  ::close(fds[1]);
  const std::string message = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
    throw InputError(path,
                     "reading it did not finish within " + std::to_string(seconds) +
                         " s (a corrupt file sends the HDF5 library in circles)",
                     "an intact HDF5 file");
  if (WIFSIGNALED(status))
    throw InputError(path,
                     std::string("is corrupt: reading it crashed the HDF5 library (") +
                         strsignal(WTERMSIG(status)) + ")",
                     "an intact HDF5 file");
  if (!message.empty()) throw InputError(message);
  // No message: the child died inside the library without a signal reaching us, as under a
  // sanitizer, which reports the memory error and exits with its own status.
  if (WIFEXITED(status))
    throw InputError(path,
                     "is corrupt: reading it crashed the HDF5 library (the checking process "
                     "exited with status " +
                         std::to_string(WEXITSTATUS(status)) + ")",
                     "an intact HDF5 file");
  throw InputError(path, "cannot be checked", "an intact HDF5 file");
}

std::optional<Value> StoredRun::attribute(const std::string& name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return v;
  return std::nullopt;
}

StoredRun read_store(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw InputError(path, "no such results file", "an existing .h5 file written by sinkbench");
  verify_hdf5_file(path);
  StoredRun run;
  run.path = path;
  Handle file(open_readonly(path, "results file"));
  run.attrs = read_attributes(file);
  run.schema_version = integer_attribute(run, "schema_version");
  run.policy_version = integer_attribute(run, "policy_version");
  if (run.schema_version < 1 || run.schema_version > kSchemaVersion)
    throw InputError(path,
                     "has results schema version " + std::to_string(run.schema_version) +
                         "; this sinkbench reads schema versions 1 to " +
                         std::to_string(kSchemaVersion),
                     "a file written by this or an earlier sinkbench");
  const auto complete = run.attribute("complete");
  run.complete =
      complete && std::holds_alternative<int64_t>(*complete) && std::get<int64_t>(*complete) == 1;
  run.cases = read_table(file, "cases", case_columns(), path);
  run.results = read_table(file, "results", result_columns(), path);
  check_plausible(run.cases, path, "cases");
  check_plausible(run.results, path, "results");
  return run;
}

void write_table_file(const std::string& path, const Attributes& attrs, const std::string& name,
                      const Table& table) {
  write_file_atomically(path, attrs, {{name, table.columns, table.rows}}, {}, true);
}

std::optional<Value> StoredTable::attribute(const std::string& name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return v;
  return std::nullopt;
}

StoredTable read_table_file(const std::string& path, const std::string& name,
                            const std::vector<Column>& columns) {
  verify_hdf5_file(path);
  Handle file(open_readonly(path, "file"));
  StoredTable out;
  out.path = path;
  out.attrs = read_attributes(file);
  out.table = read_table(file, name, columns, path);
  check_plausible(out.table, path, name);
  return out;
}

bool has_arrays(const std::string& path, const std::string& case_id) {
  silence_hdf5();
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file < 0) return false;
  const std::string name = "/arrays/" + case_id;
  return H5Lexists(file, "/arrays", H5P_DEFAULT) > 0 &&
         H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0;
}

}  // namespace sinkbench
