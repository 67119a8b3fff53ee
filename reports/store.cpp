// reports/store.cpp — HDF5 C API behind Store and read_store. Every compound member is 8 bytes
// (int64, double or a variable-length string pointer) so a row packs as an array of 8-byte slots.
#include "reports/store.h"

#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>

#include "core/error.h"

namespace sinkbench {
namespace {

static_assert(std::is_same_v<hid_t, int64_t>, "hid_t is 64-bit from HDF5 1.10 on");

constexpr hsize_t kChunkRows = 128;

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

hid_t string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

hid_t native_type(Kind k) {
  return k == Kind::i64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
}

// Compound type of a column list, one 8-byte slot per column.
hid_t row_type(const std::vector<Column>& cols) {
  hid_t t = H5Tcreate(H5T_COMPOUND, 8 * cols.size());
  Handle str(string_type());
  for (size_t i = 0; i < cols.size(); ++i)
    H5Tinsert(t, cols[i].name.c_str(), 8 * i,
              cols[i].kind == Kind::str ? str.get() : native_type(cols[i].kind));
  return t;
}

std::vector<uint64_t> pack(const std::vector<Column>& cols, const std::vector<Row>& rows) {
  std::vector<uint64_t> buf(cols.size() * rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < cols.size(); ++c) {
      uint64_t& slot = buf[r * cols.size() + c];
      const Value& v = rows[r].at(c);
      if (const auto* s = std::get_if<std::string>(&v)) {
        const char* p = s->c_str();
        std::memcpy(&slot, &p, 8);
      } else if (const auto* i = std::get_if<int64_t>(&v)) {
        std::memcpy(&slot, i, 8);
      } else {
        std::memcpy(&slot, &std::get<double>(v), 8);
      }
    }
  }
  return buf;
}

hid_t create_table(hid_t file, const std::string& name, const std::vector<Column>& cols,
                   const std::string& path) {
  const hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {kChunkRows};
  Handle space(H5Screate_simple(1, dims, maxdims));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl, 1, chunk);
  Handle type(row_type(cols));
  return check(H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), path,
               "create the '" + name + "' table");
}

void append_rows(hid_t dset, int64_t& count, const std::vector<Column>& cols,
                 const std::vector<Row>& rows, const std::string& path) {
  if (rows.empty()) return;
  const hsize_t n = rows.size();
  const hsize_t total[1] = {hsize_t(count) + n};
  check(H5Dset_extent(dset, total), path, "extend a table");
  Handle fspace(H5Dget_space(dset));
  const hsize_t start[1] = {hsize_t(count)}, len[1] = {n};
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, len, nullptr);
  Handle mspace(H5Screate_simple(1, len, nullptr));
  Handle type(row_type(cols));
  const std::vector<uint64_t> buf = pack(cols, rows);
  check(H5Dwrite(dset, type, mspace, fspace, H5P_DEFAULT, buf.data()), path, "write table rows");
  count += int64_t(n);
}

void write_attribute(hid_t obj, const std::string& name, const Value& v, const std::string& path) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle space(H5Screate(H5S_SCALAR));
  if (const auto* s = std::get_if<std::string>(&v)) {
    Handle type(string_type());
    Handle a(check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), path,
                   "create attribute " + name));
    const char* p = s->c_str();
    check(H5Awrite(a, type, &p), path, "write attribute " + name);
  } else {
    const Kind k = std::holds_alternative<int64_t>(v) ? Kind::i64 : Kind::f64;
    Handle a(check(H5Acreate2(obj, name.c_str(), native_type(k), space, H5P_DEFAULT, H5P_DEFAULT),
                   path, "create attribute " + name));
    if (k == Kind::i64)
      check(H5Awrite(a, H5T_NATIVE_INT64, &std::get<int64_t>(v)), path, "write " + name);
    else
      check(H5Awrite(a, H5T_NATIVE_DOUBLE, &std::get<double>(v)), path, "write " + name);
  }
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

void write_array(hid_t file, const std::string& case_id, const Array& a, const std::string& path) {
  const std::string name = "/arrays/" + case_id + "/" + a.path;
  std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl, 1);
  // One chunk per array, byte-shuffled and deflated: float arrays shrink by about a third, which
  // keeps golden fixtures small; any HDF5 reader decompresses transparently.
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  const bool nonempty = !dims.empty() && std::find(dims.begin(), dims.end(), 0) == dims.end();
  if (nonempty && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
    H5Pset_chunk(dcpl, int(dims.size()), dims.data());
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 4);
  }
  Handle d(check(H5Dcreate2(file, name.c_str(), elem_type(a.elem), space, lcpl, dcpl, H5P_DEFAULT),
                 path, "create array " + name));
  check(H5Dwrite(d, elem_type(a.elem), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.bytes.data()), path,
        "write array " + name);
  write_attribute(d, "dtype", a.dtype, path);
}

template <typename T>
Array make_array(std::string path, Array::Elem e, std::vector<int64_t> shape, const T* data,
                 size_t n, std::string dtype) {
  Array a{std::move(path), e, std::move(shape), {}, std::move(dtype)};
  a.bytes.resize(n * sizeof(T));
  std::memcpy(a.bytes.data(), data, a.bytes.size());
  return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

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
  silence_hdf5();
  Store s;
  s.path_ = path;
  // The 1.10 file format (readable by HDF5 >= 1.10 and h5py): compact object headers and a
  // single-chunk index make the thousands of small per-case arrays cheap to store.
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
  s.file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (s.file_ < 0)
    throw InputError(path, "cannot create the results file", "a writable path (check -o)");
  for (const auto& [name, value] : attrs)
    write_attribute(s.file_, name, value, path);
  s.cases_ = create_table(s.file_, "cases", case_columns(), path);
  s.results_ = create_table(s.file_, "results", result_columns(), path);
  check(H5Fflush(s.file_, H5F_SCOPE_GLOBAL), path, "flush");
  return s;
}

Store::Store(Store&& o) noexcept
    : file_(o.file_),
      cases_(o.cases_),
      results_(o.results_),
      case_count_(o.case_count_),
      result_count_(o.result_count_),
      path_(std::move(o.path_)),
      seconds_(o.seconds_) {
  o.file_ = o.cases_ = o.results_ = -1;
}

Store::~Store() {
  try {
    close();
  } catch (...) {
  }
}

void Store::append(const CaseRecord& rec) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const Array& a : rec.arrays)
    write_array(file_, rec.id(), a, path_);
  append_rows(results_, result_count_, result_columns(), rec.results, path_);
  // The case row goes last: a reader of a file cut short sees no case without its results.
  append_rows(cases_, case_count_, case_columns(), {rec.case_row}, path_);
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), path_, "flush");
  seconds_ += seconds_since(t0);
}

bool Store::copy_arrays(const std::string& src_path, const std::string& case_id) {
  const auto t0 = std::chrono::steady_clock::now();
  Handle src(H5Fopen(src_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  const std::string name = "/arrays/" + case_id;
  bool ok = src >= 0 && H5Lexists(src, "/arrays", H5P_DEFAULT) > 0 &&
            H5Lexists(src, name.c_str(), H5P_DEFAULT) > 0;
  if (ok) {
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
    H5Pset_create_intermediate_group(lcpl, 1);
    ok = H5Ocopy(src, name.c_str(), file_, name.c_str(), H5P_DEFAULT, lcpl) >= 0;
  }
  seconds_ += seconds_since(t0);
  return ok;
}

void Store::set_attribute(const std::string& name, const Value& v) {
  write_attribute(file_, name, v, path_);
}

void Store::close() {
  if (file_ < 0) return;
  H5Dclose(cases_);
  H5Dclose(results_);
  const herr_t rc = H5Fclose(file_);
  file_ = cases_ = results_ = -1;
  check(rc, path_, "close the file");
}

// ---- reading ----

namespace {

Value read_attribute(hid_t obj, const char* name) {
  Handle a(H5Aopen(obj, name, H5P_DEFAULT));
  Handle ftype(H5Aget_type(a));
  if (H5Tget_class(ftype) == H5T_STRING) {
    if (H5Tis_variable_str(ftype) > 0) {
      Handle mtype(string_type());
      char* p = nullptr;
      if (H5Aread(a, mtype, &p) < 0) return std::string();
      std::string s = p ? p : "";
      Handle space(H5Aget_space(a));
      H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &p);
      return s;
    }
    std::string s(H5Tget_size(ftype), '\0');
    H5Aread(a, ftype, s.data());
    return s.substr(0, s.find('\0'));
  }
  if (H5Tget_class(ftype) == H5T_INTEGER) {
    int64_t v = 0;
    H5Aread(a, H5T_NATIVE_INT64, &v);
    return v;
  }
  double v = 0;
  H5Aread(a, H5T_NATIVE_DOUBLE, &v);
  return v;
}

herr_t collect_attribute(hid_t obj, const char* name, const H5A_info_t*, void* out) {
  static_cast<Attributes*>(out)->emplace_back(name, read_attribute(obj, name));
  return 0;
}

Table read_table(hid_t file, const std::string& name, const std::vector<Column>& cols,
                 const std::string& path) {
  Table t{cols, {}};
  Handle d(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  if (d < 0) throw InputError(path, "has no '" + name + "' table", "a sinkbench results file");
  Handle space(H5Dget_space(d));
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n <= 0) return t;
  Handle type(row_type(cols));
  std::vector<uint64_t> buf(size_t(n) * cols.size());
  if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw InputError(path, "the '" + name + "' table cannot be read (corrupt, or other columns)",
                     "a schema v1 table");
  t.rows.resize(size_t(n));
  for (size_t r = 0; r < size_t(n); ++r) {
    for (size_t c = 0; c < cols.size(); ++c) {
      const uint64_t slot = buf[r * cols.size() + c];
      if (cols[c].kind == Kind::str) {
        const char* p = nullptr;
        std::memcpy(&p, &slot, 8);
        t.rows[r].push_back(std::string(p ? p : ""));
      } else if (cols[c].kind == Kind::i64) {
        int64_t v;
        std::memcpy(&v, &slot, 8);
        t.rows[r].push_back(v);
      } else {
        double v;
        std::memcpy(&v, &slot, 8);
        t.rows[r].push_back(v);
      }
    }
  }
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf.data());
  return t;
}

int64_t integer_attribute(const StoredRun& run, const std::string& name) {
  const auto v = run.attribute(name);
  if (!v || !std::holds_alternative<int64_t>(*v))
    throw InputError(run.path, "has no integer attribute '" + name + "'",
                     "a results file written by sinkbench");
  return std::get<int64_t>(*v);
}

}  // namespace

std::optional<Value> StoredRun::attribute(const std::string& name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return v;
  return std::nullopt;
}

StoredRun read_store(const std::string& path) {
  silence_hdf5();
  if (!std::filesystem::is_regular_file(path))
    throw InputError(path, "no such results file", "an existing .h5 file written by sinkbench");
  StoredRun run;
  run.path = path;
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file < 0)
    throw InputError(path, "is not a readable HDF5 file (corrupt or truncated?)",
                     "a results file written by sinkbench");
  hsize_t idx = 0;
  H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_attribute, &run.attrs);
  run.schema_version = integer_attribute(run, "schema_version");
  run.policy_version = integer_attribute(run, "policy_version");
  if (run.schema_version != kSchemaVersion)
    throw InputError(path,
                     "has results schema version " + std::to_string(run.schema_version) +
                         "; this sinkbench reads schema version " + std::to_string(kSchemaVersion),
                     "a file written by a sinkbench of the same schema");
  const auto complete = run.attribute("complete");
  run.complete =
      complete && std::holds_alternative<int64_t>(*complete) && std::get<int64_t>(*complete) == 1;
  run.cases = read_table(file, "cases", case_columns(), path);
  run.results = read_table(file, "results", result_columns(), path);
  return run;
}

Attributes read_root_attributes(const std::string& path) {
  silence_hdf5();
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file < 0)
    throw InputError(path, "is not a readable HDF5 file (corrupt or truncated?)",
                     "a results file written by sinkbench");
  Attributes attrs;
  hsize_t idx = 0;
  H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_attribute, &attrs);
  return attrs;
}

void write_table_file(const std::string& path, const Attributes& attrs, const std::string& name,
                      const Table& table) {
  silence_hdf5();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
  if (file < 0) throw InputError(path, "cannot create the file", "a writable path (check -o)");
  for (const auto& [key, value] : attrs)
    write_attribute(file, key, value, path);
  Handle dset(create_table(file, name, table.columns, path));
  int64_t count = 0;
  append_rows(dset, count, table.columns, table.rows, path);
  check(H5Fflush(file, H5F_SCOPE_GLOBAL), path, "flush");
}

std::optional<Value> StoredTable::attribute(const std::string& name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return v;
  return std::nullopt;
}

StoredTable read_table_file(const std::string& path, const std::string& name,
                            const std::vector<Column>& columns) {
  silence_hdf5();
  if (!std::filesystem::is_regular_file(path))
    throw InputError(path, "no such file", "an existing .h5 file written by sinkbench");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file < 0)
    throw InputError(path, "is not a readable HDF5 file (corrupt or truncated?)",
                     "a file written by sinkbench");
  StoredTable out;
  out.path = path;
  hsize_t idx = 0;
  H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_attribute, &out.attrs);
  out.table = read_table(file, name, columns, path);
  return out;
}

bool has_arrays(const std::string& path, const std::string& case_id) {
  silence_hdf5();
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file < 0) return false;
  const std::string name = "/arrays/" + case_id;
  const bool ok =
      H5Lexists(file, "/arrays", H5P_DEFAULT) > 0 && H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0;
  return ok;
}

}  // namespace sinkbench
