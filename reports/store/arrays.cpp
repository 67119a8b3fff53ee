// reports/store/arrays.cpp — HDF5 C API behind ArrayFile and set_root_attributes. Arrays are read
// in their stored element type so bit-identity compares the exact stored bytes.
#include "reports/store/arrays.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace sinkbench {
namespace {

// Closes one HDF5 handle with the given close function when it leaves scope.
template <herr_t (*Close)(hid_t)>
struct Closer {
  hid_t id;
  explicit Closer(hid_t i) : id(i) {}
  Closer(const Closer&) = delete;
  ~Closer() {
    if (id >= 0) Close(id);
  }
  operator hid_t() const { return id; }
};
using Dataset = Closer<H5Dclose>;
using Space = Closer<H5Sclose>;
using Type = Closer<H5Tclose>;
using Attr = Closer<H5Aclose>;

herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* out) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

std::string string_attribute(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return "";
  Attr a(H5Aopen(obj, name, H5P_DEFAULT));
  Type ftype(H5Aget_type(a));
  if (H5Tget_class(ftype) != H5T_STRING) return "";
  if (H5Tis_variable_str(ftype) <= 0) {  // schema v2: fixed-length, zero-padded
    std::string s(H5Tget_size(ftype), '\0');
    if (H5Aread(a, ftype, s.data()) < 0) return "";
    return s.substr(0, s.find('\0'));
  }
  Type mtype(H5Tcopy(H5T_C_S1));
  H5Tset_size(mtype, H5T_VARIABLE);
  H5Tset_cset(mtype, H5Tget_cset(ftype));
  char* p = nullptr;
  if (H5Aread(a, mtype, &p) < 0) return "";
  std::string s = p ? p : "";
  Space space(H5Aget_space(a));
  H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &p);
  return s;
}

double half_value(uint16_t bits, const std::string& dtype) {
  return dtype == "bf16" ? bf16_bits_to_float(bits) : fp16_bits_to_float(bits);
}

// Decodes the stored bytes into doubles according to the element type.
std::vector<double> decode(const std::vector<uint8_t>& bytes, H5T_class_t cls, size_t size,
                           const std::string& dtype) {
  const size_t n = bytes.size() / size;
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = bytes.data() + i * size;
    if (cls == H5T_FLOAT && size == 8) {
      std::memcpy(&out[i], p, 8);
    } else if (cls == H5T_FLOAT && size == 4) {
      float f;
      std::memcpy(&f, p, 4);
      out[i] = f;
    } else if (size == 2) {
      uint16_t b;
      std::memcpy(&b, p, 2);
      out[i] = half_value(b, dtype);
    } else {
      int64_t v;
      std::memcpy(&v, p, 8);
      out[i] = double(v);
    }
  }
  return out;
}

hid_t memory_type(H5T_class_t cls, size_t size) {
  if (cls == H5T_FLOAT) return size == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
  return size == 2 ? H5T_NATIVE_UINT16 : H5T_NATIVE_INT64;
}

void write_string_attribute(hid_t file, const std::string& name, const std::string& value,
                            const std::string& path) {
  if (H5Aexists(file, name.c_str()) > 0) H5Adelete(file, name.c_str());
  // Fixed-length, like every string of a schema v2 file: kept in the checksummed object header.
  std::string padded = value;
  padded.resize(std::max<size_t>(value.size(), 1), '\0');
  Type type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type, padded.size());
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  H5Tset_cset(type, H5T_CSET_UTF8);
  Space space(H5Screate(H5S_SCALAR));
  Attr a(H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (a < 0 || H5Awrite(a, type, padded.data()) < 0)
    throw InputError(path, "cannot write attribute '" + name + "'", "a writable results file");
}

void write_number_attribute(hid_t file, const std::string& name, const Value& v,
                            const std::string& path) {
  if (H5Aexists(file, name.c_str()) > 0) H5Adelete(file, name.c_str());
  const bool integer = std::holds_alternative<int64_t>(v);
  const hid_t t = integer ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
  Space space(H5Screate(H5S_SCALAR));
  Attr a(H5Acreate2(file, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT));
  const void* p = integer ? static_cast<const void*>(&std::get<int64_t>(v))
                          : static_cast<const void*>(&std::get<double>(v));
  if (a < 0 || H5Awrite(a, t, p) < 0)
    throw InputError(path, "cannot write attribute '" + name + "'", "a writable results file");
}

}  // namespace

ArrayFile::ArrayFile(const std::string& path) : path_(path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0)
    throw InputError(path, "is not a readable HDF5 file (corrupt or truncated?)",
                     "a results file written by sinkbench");
}

ArrayFile::~ArrayFile() {
  if (file_ >= 0) H5Fclose(file_);
}

bool ArrayFile::any() const {
  return H5Lexists(file_, "/arrays", H5P_DEFAULT) > 0;
}

std::vector<std::string> ArrayFile::list(const std::string& case_id) const {
  std::vector<std::string> names;
  const std::string group = "/arrays/" + case_id;
  if (!any() || H5Lexists(file_, group.c_str(), H5P_DEFAULT) <= 0) return names;
  if (H5Ovisit_by_name(file_, group.c_str(), H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &names,
                       H5P_DEFAULT) < 0)
    throw InputError(path_, "cannot list the arrays of case " + case_id, "a readable group");
  std::sort(names.begin(), names.end());
  return names;
}

StoredArray ArrayFile::read(const std::string& case_id, const std::string& path) const {
  const std::string name = "/arrays/" + case_id + "/" + path;
  Dataset d(H5Dopen2(file_, name.c_str(), H5P_DEFAULT));
  if (d < 0) throw InputError(path_, "has no dataset " + name, "the array written by the run");
  StoredArray a;
  a.path = path;
  a.dtype = string_attribute(d, "dtype");
  Type ftype(H5Dget_type(d));
  const H5T_class_t cls = H5Tget_class(ftype);
  const size_t size = H5Tget_size(ftype);
  Space space(H5Dget_space(d));
  std::vector<hsize_t> dims(size_t(std::max(0, H5Sget_simple_extent_ndims(space))));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  size_t n = 1;
  for (hsize_t x : dims) {
    a.shape.push_back(int64_t(x));
    n *= size_t(x);
  }
  a.bytes.resize(n * size);
  if (n > 0 && read_whole_dataset(d, memory_type(cls, size), n, a.bytes.data()) < 0)
    throw InputError(path_, "dataset " + name + " cannot be read (corrupt?)", "a readable array");
  a.values = decode(a.bytes, cls, size, a.dtype);
  return a;
}

void set_root_attributes(const std::string& path, const Attributes& attrs) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) throw InputError(path, "cannot be opened for writing", "a writable results file");
  try {
    for (const auto& [name, value] : attrs) {
      if (const auto* s = std::get_if<std::string>(&value))
        write_string_attribute(file, name, *s, path);
      else
        write_number_attribute(file, name, value, path);
    }
  } catch (...) {
    H5Fclose(file);
    throw;
  }
  if (H5Fclose(file) < 0)
    throw InputError(path, "cannot be closed after writing", "a writable file");
}

}  // namespace sinkbench
