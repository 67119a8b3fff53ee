// reports/store/external.cpp — HDF5 C API behind the exchange file of external implementations.
// Inputs are stored exactly as run.h5 stores arrays (fp32 as float32, bf16/fp16 as uint16 bits
// with a `dtype` attribute), so a reader needs no half-precision support in its HDF5.
#include "reports/store/external.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cases/generate.h"
#include "core/error.h"

namespace sinkbench {
namespace {

// Closes any HDF5 handle when it leaves scope.
struct H {
  hid_t id;
  explicit H(hid_t i = -1) : id(i) {}
  H(const H&) = delete;
  H& operator=(const H&) = delete;
  ~H() {
    if (id >= 0) close_any(id);
  }
  operator hid_t() const { return id; }
  static herr_t close_any(hid_t i) {
    switch (H5Iget_type(i)) {
      case H5I_FILE:
        return H5Fclose(i);
      case H5I_GROUP:
        return H5Gclose(i);
      case H5I_DATATYPE:
        return H5Tclose(i);
      case H5I_DATASPACE:
        return H5Sclose(i);
      case H5I_DATASET:
        return H5Dclose(i);
      case H5I_ATTR:
        return H5Aclose(i);
      case H5I_GENPROP_LST:
        return H5Pclose(i);
      default:
        return 0;
    }
  }
};

void quiet_hdf5() {
  static const bool once = [] { return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0; }();
  (void)once;
}

hid_t must(hid_t id, const std::string& file, const std::string& what) {
  if (id < 0) throw InputError(file, "cannot " + what, "a writable HDF5 file");
  return id;
}

void put_attr(hid_t obj, const std::string& name, const Value& v, const std::string& file) {
  H space(H5Screate(H5S_SCALAR));
  if (const auto* s = std::get_if<std::string>(&v)) {
    H type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    H a(must(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), file,
             "write attribute " + name));
    const char* p = s->c_str();
    H5Awrite(a, type, &p);
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    H a(must(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), file,
             "write attribute " + name));
    H5Awrite(a, H5T_NATIVE_INT64, i);
  } else {
    const double d = std::get<double>(v);
    H a(must(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT), file,
             "write attribute " + name));
    H5Awrite(a, H5T_NATIVE_DOUBLE, &d);
  }
}

void put_shape_attr(hid_t obj, const std::string& name, const std::vector<int64_t>& v,
                    const std::string& file) {
  const hsize_t n[1] = {hsize_t(v.size())};
  H space(H5Screate_simple(1, n, nullptr));
  H a(must(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT), file,
           "write attribute " + name));
  H5Awrite(a, H5T_NATIVE_INT64, v.data());
}

// Writes one dataset; file_type/mem_type choose the stored and in-memory element types.
void put_dataset(hid_t group, const std::string& name, const std::vector<int64_t>& shape,
                 hid_t file_type, hid_t mem_type, const void* data, const std::string& dtype,
                 const std::string& file) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H space(H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  H d(must(H5Dcreate2(group, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           file, "create dataset " + name));
  must(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), file, "write dataset " + name);
  put_attr(d, "dtype", dtype, file);
}

// A tensor in its storage form: fp32 as float32, bf16/fp16 as their uint16 bits.
void put_tensor(hid_t group, const std::string& name, const Tensor& t, const std::string& file) {
  const std::string dt(dtype_name(t.dtype()));
  if (t.dtype() == DType::f32) {
    put_dataset(group, name, t.shape(), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t.data(), dt, file);
  } else {
    put_dataset(group, name, t.shape(), H5T_STD_U16LE, H5T_NATIVE_UINT16, t.data(), dt, file);
  }
}

// Sinks in the case dtype, -inf for every head when the case has none.
Tensor sink_tensor(const CaseSpec& c, const Inputs& in) {
  Tensor t(c.dtype, {int64_t(c.heads_q)});
  for (int h = 0; h < c.heads_q; ++h)
    t.set(h, in.sinks.empty() ? -INFINITY : in.sinks[size_t(h)]);
  return t;
}

// `grad: do` cases: dO (the case dtype, o's packed shape) and, when drawn, dL/dlse (float32,
// lse's shape), as generate_grads makes them; attributes name the gradient outputs' shapes.
void write_grad_inputs(hid_t g, const CaseSpec& c, const Layout& L, const std::string& file) {
  const GradInputs gi = generate_grads(c, L);
  put_attr(g, "grad", std::string(grad_name(c.grad)), file);
  put_attr(g, "dlse", std::string(dlse_name(c.dlse)), file);
  put_shape_attr(g, "dkv_shape", {L.total_k(), int64_t(c.heads_kv), int64_t(c.head_dim)}, file);
  put_tensor(g, "d_o", gi.d_o, file);
  if (!gi.dlse.empty())
    put_dataset(g, "dlse", external_lse_shape(c), H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, gi.dlse.data(),
                "fp32", file);
}

void write_case(hid_t cases, const CaseSpec& c, const std::string& file) {
  const Inputs in = generate(c);
  const std::string id = case_id(c);
  H g(must(H5Gcreate2(cases, id.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), file,
           "create group /cases/" + id));
  const Layout& L = in.layout;
  const std::vector<std::pair<std::string, Value>> attrs = {
      {"case_id", id},
      {"canonical", canonical(c)},
      {"label", case_label(c)},
      {"dtype", std::string(dtype_name(c.dtype))},
      {"mask", std::string(mask_name(c.mask.kind))},
      {"window", int64_t(c.mask.window)},
      {"sink_tokens", int64_t(c.mask.sink_tokens)},
      {"batch", int64_t(c.num_seqs())},  // a varlen case's batch is its sequence count
      {"seqs", int64_t(c.num_seqs())},
      {"seqlen_q", int64_t(c.varlen() ? 0 : c.seqlen_q)},
      {"seqlen_k", int64_t(c.varlen() ? 0 : c.seqlen_k)},
      {"varlen", int64_t(c.varlen())},
      {"total_q", L.total_q()},
      {"total_k", L.total_k()},
      {"heads_q", int64_t(c.heads_q)},
      {"heads_kv", int64_t(c.heads_kv)},
      {"head_dim", int64_t(c.head_dim)},
      {"scale", double(in.scale)},
      {"has_sink", int64_t(c.has_sink())},
      {"page_size", int64_t(c.page_size)},
      {"lse_layout", std::string(c.varlen() ? "[Hq, total_q]" : "[B, Hq, Sq]")},
  };
  for (const auto& [k, v] : attrs)
    put_attr(g, k, v, file);
  put_shape_attr(g, "o_shape", external_o_shape(c), file);
  put_shape_attr(g, "lse_shape", external_lse_shape(c), file);
  put_tensor(g, "q", in.q, file);
  put_tensor(g, "k", in.k, file);
  put_tensor(g, "v", in.v, file);
  put_tensor(g, "sinks", sink_tensor(c, in), file);
  const int64_t n = int64_t(L.cu_q.size());
  put_dataset(g, "cu_seqlens_q", {n}, H5T_STD_I64LE, H5T_NATIVE_INT64, L.cu_q.data(), "int64",
              file);
  put_dataset(g, "cu_seqlens_k", {n}, H5T_STD_I64LE, H5T_NATIVE_INT64, L.cu_k.data(), "int64",
              file);
  if (c.has_grad()) write_grad_inputs(g, c, L, file);
}

herr_t collect_group(hid_t loc, const char* name, const H5L_info_t*, void* out) {
  H5O_info_t info;
  if (H5Oget_info_by_name(loc, name, &info, H5P_DEFAULT) >= 0 && info.type == H5O_TYPE_GROUP)
    static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    const size_t end = std::min(path.find('/', pos), path.size());
    if (end > pos) out.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string type_text(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) return fmt::format("float{}", 8 * size);
  if (cls == H5T_INTEGER)
    return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * size);
  if (cls == H5T_STRING) return "string";
  return "non-numeric";
}

}  // namespace

std::vector<int64_t> external_o_shape(const CaseSpec& c) {
  if (!c.varlen()) return {c.batch, c.seqlen_q, c.heads_q, c.head_dim};
  return external_packed_o_shape(c);
}

std::vector<int64_t> external_packed_o_shape(const CaseSpec& c) {
  const Layout L = make_layout(c);
  return {L.total_q(), c.heads_q, c.head_dim};
}

std::vector<int64_t> external_lse_shape(const CaseSpec& c) {
  const Layout L = make_layout(c);
  if (c.varlen()) return {c.heads_q, L.total_q()};
  return {c.batch, c.heads_q, c.seqlen_q};
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

void write_external(const std::string& path, const Attributes& attrs,
                    const std::vector<CaseSpec>& cases) {
  quiet_hdf5();
  H file(must(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path,
              "create the file"));
  put_attr(file, "format", std::string(kExternalFormat), path);
  put_attr(file, "format_version", kExternalVersion, path);
  for (const auto& [k, v] : attrs)
    put_attr(file, k, v, path);
  H g(must(H5Gcreate2(file, "cases", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
           "create group /cases"));
  H out(must(H5Gcreate2(file, "outputs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
             "create group /outputs"));
  for (const CaseSpec& c : cases)
    write_case(g, c, path);
}

ExternalFile::ExternalFile(const std::string& path) : path_(path) {
  quiet_hdf5();
  const std::string expected = "an HDF5 file written by `sinkbench export`";
  if (!std::filesystem::exists(path)) throw InputError(path, "no such file", expected);
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw InputError(path, "is not a readable HDF5 file (corrupt or truncated?)", expected);
  verify_hdf5_file(path);  // a file that would crash libhdf5 is refused by a child process
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw InputError(path, "cannot be opened", expected);
  const auto format = text_attribute("/", "format");
  if (!format || *format != kExternalFormat) {
    H5Fclose(file_);
    throw InputError(path, "has no root attribute format = \"sinkbench-external\"", expected);
  }
  const auto version = number_attribute("/", "format_version");
  if (!version || int64_t(*version) != kExternalVersion) {
    H5Fclose(file_);
    throw InputError(
        path,
        fmt::format("has format_version {}; this sinkbench reads version {}",
                    version ? fmt::format("{}", *version) : "(none)", kExternalVersion),
        "a file exported by this version of sinkbench");
  }
}

ExternalFile::~ExternalFile() {
  if (file_ >= 0) H5Fclose(file_);
}

bool ExternalFile::exists(const std::string& path) const {
  std::string at;
  for (const std::string& part : components(path)) {
    at += "/" + part;
    if (H5Lexists(file_, at.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

std::vector<std::string> ExternalFile::groups(const std::string& parent) const {
  std::vector<std::string> out;
  if (!exists(parent)) return out;
  H g(H5Gopen2(file_, parent.c_str(), H5P_DEFAULT));
  if (g < 0) return out;
  hsize_t idx = 0;
  H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_group, &out);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> ExternalFile::text_attribute(const std::string& object,
                                                        const char* name) const {
  if (object != "/" && !exists(object)) return std::nullopt;
  if (H5Aexists_by_name(file_, object.c_str(), name, H5P_DEFAULT) <= 0) return std::nullopt;
  H a(H5Aopen_by_name(file_, object.c_str(), name, H5P_DEFAULT, H5P_DEFAULT));
  H ftype(H5Aget_type(a));
  if (H5Tget_class(ftype) != H5T_STRING) return std::nullopt;
  H space(H5Aget_space(a));
  if (H5Tis_variable_str(ftype) > 0) {
    H mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(ftype));  // HDF5 converts no character sets
    char* p = nullptr;
    if (H5Aread(a, mtype, &p) < 0) return std::nullopt;
    std::string s = p ? p : "";
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &p);
    return s;
  }
  // Fixed-length strings (numpy bytes written by h5py).
  const size_t n = H5Tget_size(ftype);
  std::string s(n, '\0');
  H mtype(H5Tcopy(H5T_C_S1));
  H5Tset_size(mtype, n);
  H5Tset_cset(mtype, H5Tget_cset(ftype));
  if (H5Aread(a, mtype, s.data()) < 0) return std::nullopt;
  s.resize(std::min(s.find('\0'), s.size()));
  return s;
}

std::optional<double> ExternalFile::number_attribute(const std::string& object,
                                                     const char* name) const {
  if (object != "/" && !exists(object)) return std::nullopt;
  if (H5Aexists_by_name(file_, object.c_str(), name, H5P_DEFAULT) <= 0) return std::nullopt;
  H a(H5Aopen_by_name(file_, object.c_str(), name, H5P_DEFAULT, H5P_DEFAULT));
  H ftype(H5Aget_type(a));
  const H5T_class_t cls = H5Tget_class(ftype);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) return std::nullopt;
  H space(H5Aget_space(a));
  if (H5Sget_simple_extent_npoints(space) != 1) return std::nullopt;
  double v = 0;
  if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) return std::nullopt;
  return v;
}

std::optional<ExternalArray> ExternalFile::read(const std::string& path) const {
  if (!exists(path)) return std::nullopt;
  H5O_info_t info;
  if (H5Oget_info_by_name(file_, path.c_str(), &info, H5P_DEFAULT) < 0 ||
      info.type != H5O_TYPE_DATASET)
    return std::nullopt;
  H d(H5Dopen2(file_, path.c_str(), H5P_DEFAULT));
  H type(H5Dget_type(d));
  H space(H5Dget_space(d));
  ExternalArray a;
  a.path = path;
  a.stored_type = type_text(type);
  a.dtype = text_attribute(path, "dtype").value_or("");
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(size_t(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  a.shape.assign(dims.begin(), dims.end());
  const size_t n = size_t(H5Sget_simple_extent_npoints(space));
  const H5T_class_t cls = H5Tget_class(type);
  const std::string where = path_ + ":" + path;
  if (cls == H5T_FLOAT) {
    // Any float width (float16 included) converts to double inside HDF5.
    a.kind = "float";
    a.values.resize(n);
    if (n && read_whole_dataset(d, H5T_NATIVE_DOUBLE, n, a.values.data()) < 0)
      throw InputError(where, "cannot be read as floating point", "a readable dataset");
  } else if (cls == H5T_INTEGER && H5Tget_size(type) == 2 && H5Tget_sign(type) == H5T_SGN_NONE) {
    a.kind = "uint16";
    a.bits.resize(n);
    if (n && read_whole_dataset(d, H5T_NATIVE_UINT16, n, a.bits.data()) < 0)
      throw InputError(where, "cannot be read as uint16", "a readable dataset");
    DType dt;
    if (parse_dtype(a.dtype, &dt) && dt != DType::f32) {
      a.values.resize(n);
      for (size_t i = 0; i < n; ++i)
        a.values[i] =
            dt == DType::bf16 ? bf16_bits_to_float(a.bits[i]) : fp16_bits_to_float(a.bits[i]);
    }
  } else if (cls == H5T_INTEGER) {
    a.kind = "int";
    a.ints.resize(n);
    if (n && read_whole_dataset(d, H5T_NATIVE_INT64, n, a.ints.data()) < 0)
      throw InputError(where, "cannot be read as integers", "a readable dataset");
  } else {
    a.kind = "other";
  }
  return a;
}

}  // namespace sinkbench
