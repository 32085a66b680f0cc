#include "must/models/state_dict_file.h"

#include <torch/torch.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/strings.h"

namespace must::models {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------- bytes
uint64_t read_le(const std::string& bytes, size_t at, int width, const std::string& what) {
  MUST_CHECK(at + width <= bytes.size(), what, ": truncated (needs byte ", at + width, " of ", bytes.size(), ")");
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = (value << 8) | uint8_t(bytes[at + i]);
  return value;
}

// ---------------------------------------------------------------------------------------------- zip
struct ZipEntry {
  uint64_t data_offset = 0;
  uint64_t size = 0;
};

std::map<std::string, ZipEntry> read_zip_directory(const std::string& bytes, const std::string& file) {
  const std::string what = "'" + file + "' (zip)";
  // End of central directory: the last signature 0x06054b50 (a comment of up to 64 KiB may follow it).
  MUST_CHECK(bytes.size() >= 22, what, ": too short for a zip archive");
  size_t eocd = std::string::npos;
  const size_t lowest = bytes.size() > 22 + 65535 ? bytes.size() - 22 - 65535 : 0;
  for (size_t at = bytes.size() - 22; eocd == std::string::npos; --at) {
    if (read_le(bytes, at, 4, what) == 0x06054b50) eocd = at;
    if (at == lowest) break;
  }
  MUST_CHECK(eocd != std::string::npos, what, ": no end-of-central-directory record (truncated?)");
  uint64_t entries = read_le(bytes, eocd + 10, 2, what);
  uint64_t directory = read_le(bytes, eocd + 16, 4, what);
  if (entries == 0xFFFF || directory == 0xFFFFFFFF) {  // ZIP64: the locator sits right before the record
    MUST_CHECK(eocd >= 20 && read_le(bytes, eocd - 20, 4, what) == 0x07064b50, what, ": bad ZIP64 locator");
    const uint64_t record = read_le(bytes, eocd - 20 + 8, 8, what);
    MUST_CHECK(read_le(bytes, record, 4, what) == 0x06064b50, what, ": bad ZIP64 end record");
    entries = read_le(bytes, record + 32, 8, what);
    directory = read_le(bytes, record + 48, 8, what);
  }
  std::map<std::string, ZipEntry> out;
  uint64_t at = directory;
  for (uint64_t e = 0; e < entries; ++e) {
    MUST_CHECK(read_le(bytes, at, 4, what) == 0x02014b50, what, ": bad central directory entry ", e);
    const uint64_t method = read_le(bytes, at + 10, 2, what);
    uint64_t compressed = read_le(bytes, at + 20, 4, what);
    uint64_t size = read_le(bytes, at + 24, 4, what);
    const uint64_t name_length = read_le(bytes, at + 28, 2, what);
    const uint64_t extra_length = read_le(bytes, at + 30, 2, what);
    const uint64_t comment_length = read_le(bytes, at + 32, 2, what);
    uint64_t local = read_le(bytes, at + 42, 4, what);
    MUST_CHECK(at + 46 + name_length <= bytes.size(), what, ": truncated central directory");
    const std::string name = bytes.substr(at + 46, name_length);
    // ZIP64 extra field: the 64-bit values of whichever fields read 0xFFFFFFFF, in this order.
    for (uint64_t x = at + 46 + name_length; x + 4 <= at + 46 + name_length + extra_length;) {
      const uint64_t id = read_le(bytes, x, 2, what), length = read_le(bytes, x + 2, 2, what);
      if (id == 0x0001) {
        uint64_t field = x + 4;
        if (size == 0xFFFFFFFF) size = read_le(bytes, field, 8, what), field += 8;
        if (compressed == 0xFFFFFFFF) compressed = read_le(bytes, field, 8, what), field += 8;
        if (local == 0xFFFFFFFF) local = read_le(bytes, field, 8, what);
      }
      x += 4 + length;
    }
    MUST_CHECK(method == 0, what, ": entry '", name, "' is compressed (method ", method,
               "); torch.save writes stored entries only");
    MUST_CHECK(read_le(bytes, local, 4, what) == 0x04034b50, what, ": bad local header for '", name, "'");
    const uint64_t data = local + 30 + read_le(bytes, local + 26, 2, what) + read_le(bytes, local + 28, 2, what);
    MUST_CHECK(data + size <= bytes.size(), what, ": entry '", name, "' runs past the end of the file (truncated?)");
    out[name] = {data, size};
    at += 46 + name_length + extra_length + comment_length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- pickle
struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor, kObject };
  Kind kind = Kind::kNone;
  int64_t integer = 0;
  double number = 0;
  std::string text;            // string; global "module.name"; storage key; object class
  std::vector<ValuePtr> items;  // tuple / list; dict as key, value, key, value...
  torch::ScalarType dtype = torch::kFloat;  // storage
  torch::Tensor tensor;
};

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

torch::ScalarType storage_dtype(const std::string& global, const std::string& what) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"torch.FloatStorage", torch::kFloat},   {"torch.DoubleStorage", torch::kDouble},
      {"torch.HalfStorage", torch::kHalf},     {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kLong},     {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort},   {"torch.CharStorage", torch::kChar},
      {"torch.ByteStorage", torch::kByte},     {"torch.BoolStorage", torch::kBool}};
  auto it = kTypes.find(global);
  MUST_CHECK(it != kTypes.end(), what, ": unsupported storage type '", global, "'");
  return it->second;
}

class Unpickler {
 public:
  Unpickler(const std::string& bytes, size_t begin, size_t end, std::string what,
            std::function<torch::Tensor(const std::string& key, torch::ScalarType)> load_storage)
      : bytes_(bytes), at_(begin), end_(end), what_(std::move(what)), load_storage_(std::move(load_storage)) {}

  ValuePtr run() {
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                                   // PROTO
        case 0x95: at_ += 8; break;                               // FRAME
        case '.': MUST_CHECK(!stack_.empty(), what_, ": empty pickle"); return stack_.back();  // STOP
        case '(': marks_.push_back(stack_.size()); break;          // MARK
        case 'N': stack_.push_back(make(Value::Kind::kNone)); break;
        case 0x88: case 0x89: {                                   // NEWTRUE, NEWFALSE
          auto v = make(Value::Kind::kBool);
          v->integer = op == 0x88;
          stack_.push_back(v);
          break;
        }
        case 'J': push_int(int32_t(uint32_t(le(4)))); break;      // BININT
        case 'K': push_int(le(1)); break;                          // BININT1
        case 'M': push_int(le(2)); break;                          // BININT2
        case 0x8a: {                                               // LONG1
          const int n = u8();
          MUST_CHECK(n <= 8, what_, ": integer of ", n, " bytes is too large");
          uint64_t raw = n ? le(n) : 0;
          if (n && n < 8 && (raw >> (8 * n - 1)) & 1) raw |= ~uint64_t(0) << (8 * n);  // sign-extend
          push_int(int64_t(raw));
          break;
        }
        case 'G': {                                                // BINFLOAT, big-endian
          uint64_t raw = 0;
          for (int i = 0; i < 8; ++i) raw = (raw << 8) | u8();
          auto v = make(Value::Kind::kFloat);
          std::memcpy(&v->number, &raw, 8);
          stack_.push_back(v);
          break;
        }
        case 'X': push_string(le(4)); break;                       // BINUNICODE
        case 0x8c: push_string(u8()); break;                       // SHORT_BINUNICODE
        case 'T': push_string(le(4)); break;                       // BINSTRING
        case 'U': push_string(u8()); break;                        // SHORT_BINSTRING
        case 'c': {                                                // GLOBAL "module\nname\n"
          const std::string module = line(), name = line();
          auto v = make(Value::Kind::kGlobal);
          v->text = module + "." + name;
          stack_.push_back(v);
          break;
        }
        case 0x93: {                                               // STACK_GLOBAL
          const ValuePtr name = pop(), module = pop();
          auto v = make(Value::Kind::kGlobal);
          v->text = module->text + "." + name->text;
          stack_.push_back(v);
          break;
        }
        case ')': stack_.push_back(make(Value::Kind::kTuple)); break;  // EMPTY_TUPLE
        case ']': stack_.push_back(make(Value::Kind::kList)); break;   // EMPTY_LIST
        case '}': stack_.push_back(make(Value::Kind::kDict)); break;   // EMPTY_DICT
        case 't': case 'l': case 'd': {                            // TUPLE, LIST, DICT (from the mark)
          auto v = make(op == 't' ? Value::Kind::kTuple : op == 'l' ? Value::Kind::kList : Value::Kind::kDict);
          v->items = pop_to_mark();
          stack_.push_back(v);
          break;
        }
        case 0x85: case 0x86: case 0x87: {                         // TUPLE1..3
          auto v = make(Value::Kind::kTuple);
          v->items.resize(op - 0x84);
          for (size_t i = v->items.size(); i-- > 0;) v->items[i] = pop();
          stack_.push_back(v);
          break;
        }
        case 'q': memo_[le(1)] = top(); break;                     // BINPUT
        case 'r': memo_[le(4)] = top(); break;                     // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;             // MEMOIZE
        case 'h': stack_.push_back(memo(le(1))); break;            // BINGET
        case 'j': stack_.push_back(memo(le(4))); break;            // LONG_BINGET
        case 'a': {                                                // APPEND
          const ValuePtr item = pop();
          top()->items.push_back(item);
          break;
        }
        case 'e': {                                                // APPENDS
          auto items = pop_to_mark();
          for (auto& item : items) top()->items.push_back(item);
          break;
        }
        case 's': {                                                // SETITEM
          const ValuePtr value = pop(), key = pop();
          top()->items.push_back(key);
          top()->items.push_back(value);
          break;
        }
        case 'u': {                                                // SETITEMS
          auto items = pop_to_mark();
          for (auto& item : items) top()->items.push_back(item);
          break;
        }
        case 'Q': stack_.push_back(persistent(pop())); break;      // BINPERSID
        case 'R': {                                                // REDUCE
          const ValuePtr args = pop(), callable = pop();
          stack_.push_back(reduce(callable, args));
          break;
        }
        case 0x81: {                                               // NEWOBJ
          const ValuePtr args = pop(), cls = pop();
          stack_.push_back(reduce(cls, args));
          break;
        }
        case 'b': pop(); break;  // BUILD: state of an object (OrderedDict._metadata, ...): not needed
        default:
          MUST_THROW(Error, what_, ": unsupported pickle opcode 0x", std::hex, int(op), " at byte ", std::dec, at_ - 1);
      }
    }
  }

 private:
  uint8_t u8() {
    MUST_CHECK(at_ < end_, what_, ": truncated pickle");
    return uint8_t(bytes_[at_++]);
  }
  uint64_t le(int width) {
    MUST_CHECK(at_ + width <= end_, what_, ": truncated pickle");
    const uint64_t v = read_le(bytes_, at_, width, what_);
    at_ += width;
    return v;
  }
  std::string line() {
    const size_t newline = bytes_.find('\n', at_);
    MUST_CHECK(newline != std::string::npos && newline < end_, what_, ": truncated pickle");
    std::string out = bytes_.substr(at_, newline - at_);
    at_ = newline + 1;
    return out;
  }
  void push_int(int64_t value) {
    auto v = make(Value::Kind::kInt);
    v->integer = value;
    stack_.push_back(v);
  }
  void push_string(uint64_t length) {
    MUST_CHECK(at_ + length <= end_, what_, ": truncated pickle");
    auto v = make(Value::Kind::kString);
    v->text = bytes_.substr(at_, length);
    at_ += length;
    stack_.push_back(v);
  }
  ValuePtr pop() {
    MUST_CHECK(!stack_.empty(), what_, ": malformed pickle (stack underflow)");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr top() {
    MUST_CHECK(!stack_.empty(), what_, ": malformed pickle (empty stack)");
    return stack_.back();
  }
  ValuePtr memo(uint64_t index) {
    auto it = memo_.find(index);
    MUST_CHECK(it != memo_.end(), what_, ": malformed pickle (memo ", index, " unset)");
    return it->second;
  }
  std::vector<ValuePtr> pop_to_mark() {
    MUST_CHECK(!marks_.empty(), what_, ": malformed pickle (no mark)");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + long(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  ValuePtr persistent(const ValuePtr& id) {
    MUST_CHECK(id->kind == Value::Kind::kTuple && id->items.size() >= 3 && id->items[0]->text == "storage", what_,
               ": unsupported persistent id (not a torch storage)");
    auto v = make(Value::Kind::kStorage);
    v->dtype = storage_dtype(id->items[1]->text, what_);
    v->text = id->items[2]->text;
    return v;
  }

  static std::vector<int64_t> ints(const ValuePtr& tuple) {
    std::vector<int64_t> out;
    for (const auto& item : tuple->items) out.push_back(item->integer);
    return out;
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args) {
    const std::string& name = callable->text;
    if (name == "collections.OrderedDict") return make(Value::Kind::kDict);
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      MUST_CHECK(args->items.size() >= 4 && args->items[0]->kind == Value::Kind::kStorage, what_,
                 ": malformed tensor record");
      const ValuePtr& storage = args->items[0];
      auto cached = storages_.find(storage->text);
      if (cached == storages_.end()) {
        cached = storages_.emplace(storage->text, load_storage_(storage->text, storage->dtype)).first;
      }
      auto v = make(Value::Kind::kTensor);
      const auto size = ints(args->items[2]), stride = ints(args->items[3]);
      const int64_t offset = args->items[1]->integer;
      int64_t extent = offset + 1;  // last element reached + 1
      for (size_t d = 0; d < size.size(); ++d) extent += size[d] > 0 ? (size[d] - 1) * stride[d] : 0;
      bool empty = false;
      for (int64_t s : size) empty = empty || s == 0;
      MUST_CHECK(empty || extent <= cached->second.numel(), what_, ": tensor reaches element ", extent,
                 " of a storage of ", cached->second.numel());
      v->tensor = cached->second.as_strided(size, stride, offset);
      return v;
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      MUST_CHECK(!args->items.empty() && args->items[0]->kind == Value::Kind::kTensor, what_, ": malformed parameter");
      return args->items[0];
    }
    auto v = make(Value::Kind::kObject);  // something else; fails later with its class named if it matters
    v->text = name;
    // copyreg._reconstructor(cls, base, state) is how protocol 2 pickles an object: name the class instead.
    if (name == "copyreg._reconstructor" && !args->items.empty() && args->items[0]->kind == Value::Kind::kGlobal) {
      v->text = args->items[0]->text;
    }
    return v;
  }

  const std::string& bytes_;
  size_t at_, end_;
  std::string what_;
  std::function<torch::Tensor(const std::string&, torch::ScalarType)> load_storage_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

// The state dict inside a loaded pickle: the dict itself or one nested under a conventional key.
StateDict to_state_dict(const ValuePtr& root, const std::string& what) {
  auto is_tensor_dict = [](const ValuePtr& v) {
    if (v->kind != Value::Kind::kDict) return false;
    for (size_t i = 0; i + 1 < v->items.size(); i += 2) {
      if (v->items[i]->kind != Value::Kind::kString || v->items[i + 1]->kind != Value::Kind::kTensor) return false;
    }
    return true;
  };
  ValuePtr dict = root;
  if (root->kind == Value::Kind::kObject) {
    MUST_THROW(Error, what, ": holds a pickled '", root->text,
               "' object, not a state dict; save model.state_dict() instead");
  }
  MUST_CHECK(root->kind == Value::Kind::kDict, what, ": expected a dict of named tensors at the top level");
  if (!is_tensor_dict(root)) {
    dict = nullptr;
    std::vector<std::string> keys;
    for (size_t i = 0; i + 1 < root->items.size(); i += 2) {
      const std::string& key = root->items[i]->text;
      keys.push_back(key);
      if ((key == "model" || key == "state_dict" || key == "module") && is_tensor_dict(root->items[i + 1])) {
        dict = root->items[i + 1];
      }
    }
    MUST_CHECK(dict != nullptr, what, ": not a state dict (names -> tensors), nor one under 'model', 'state_dict' ",
               "or 'module'; top-level keys: ", join(keys));
  }
  StateDict out;
  for (size_t i = 0; i + 1 < dict->items.size(); i += 2) out.emplace_back(dict->items[i]->text, dict->items[i + 1]->tensor);
  return out;
}

StateDict read_torch_zip(const std::string& bytes, const std::string& file) {
  const auto entries = read_zip_directory(bytes, file);
  std::string pickle_name;
  for (const auto& entry : entries) {
    const std::string& name = entry.first;
    if (name.size() >= 9 && name.compare(name.size() - 9, 9, "/data.pkl") == 0) pickle_name = name;
  }
  MUST_CHECK(!pickle_name.empty(), "'", file, "': a zip without <archive>/data.pkl, so not a torch.save file");
  const std::string prefix = pickle_name.substr(0, pickle_name.size() - 8);  // "<archive>/"
  const std::string what = "'" + file + "' (" + pickle_name + ")";
  auto load_storage = [&](const std::string& key, torch::ScalarType dtype) {
    auto it = entries.find(prefix + "data/" + key);
    MUST_CHECK(it != entries.end(), what, ": storage '", key, "' is missing from the archive");
    const int64_t element = int64_t(c10::elementSize(dtype));
    MUST_CHECK(int64_t(it->second.size) % element == 0, what, ": storage '", key, "' has ", it->second.size,
               " bytes, not a multiple of ", element);
    auto tensor = torch::empty({int64_t(it->second.size) / element}, torch::TensorOptions().dtype(dtype));
    std::memcpy(tensor.data_ptr(), bytes.data() + it->second.data_offset, it->second.size);
    return tensor;
  };
  const ZipEntry& pickle = entries.at(pickle_name);
  Unpickler unpickler(bytes, pickle.data_offset, pickle.data_offset + pickle.size, what, load_storage);
  return to_state_dict(unpickler.run(), what);
}

// ---------------------------------------------------------------------------------------------- safetensors
const std::map<std::string, torch::ScalarType>& safetensors_dtypes() {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"F64", torch::kDouble}, {"F32", torch::kFloat}, {"F16", torch::kHalf}, {"BF16", torch::kBFloat16},
      {"I64", torch::kLong},   {"I32", torch::kInt},   {"I16", torch::kShort}, {"I8", torch::kChar},
      {"U8", torch::kByte},    {"BOOL", torch::kBool}};
  return kTypes;
}

StateDict read_safetensors(const std::string& bytes, const std::string& file,
                           std::map<std::string, std::string>* metadata) {
  const std::string what = "'" + file + "' (safetensors)";
  const uint64_t header_size = read_le(bytes, 0, 8, what);
  MUST_CHECK(header_size <= bytes.size() - 8, what, ": header of ", header_size, " bytes runs past the end");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, header_size));
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, what, ": malformed header JSON: ", e.what());
  }
  MUST_CHECK(header.is_object(), what, ": the header is not a JSON object");
  if (metadata && header.contains("__metadata__")) {
    try {
      *metadata = header["__metadata__"].get<std::map<std::string, std::string>>();
    } catch (const nlohmann::json::exception& e) {
      MUST_THROW(Error, what, ": __metadata__ must map strings to strings: ", e.what());
    }
  }
  const uint64_t base = 8 + header_size;
  std::vector<std::pair<uint64_t, std::pair<std::string, torch::Tensor>>> ordered;  // by data offset
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const std::string dtype_name = info.at("dtype");
      auto dtype = safetensors_dtypes().find(dtype_name);
      MUST_CHECK(dtype != safetensors_dtypes().end(), what, ": tensor '", name, "' has unsupported dtype ", dtype_name);
      const std::vector<int64_t> shape = info.at("shape");
      const std::vector<uint64_t> offsets = info.at("data_offsets");
      MUST_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1] && base + offsets[1] <= bytes.size(), what,
                 ": tensor '", name, "' has data offsets outside the file");
      auto tensor = torch::empty(shape, torch::TensorOptions().dtype(dtype->second));
      MUST_CHECK(uint64_t(tensor.nbytes()) == offsets[1] - offsets[0], what, ": tensor '", name, "' has ",
                 offsets[1] - offsets[0], " bytes for shape ", tensor.sizes(), " of ", dtype_name);
      std::memcpy(tensor.data_ptr(), bytes.data() + base + offsets[0], tensor.nbytes());
      ordered.push_back({offsets[0], {name, tensor}});
    } catch (const nlohmann::json::exception& e) {
      MUST_THROW(Error, what, ": tensor '", name, "': ", e.what());
    }
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  StateDict out;
  for (auto& entry : ordered) out.push_back(std::move(entry.second));
  return out;
}

}  // namespace

StateDict read_state_dict(const fs::path& path) { return read_state_dict_bytes(read_file(path), path.string()); }

StateDict read_state_dict_bytes(const std::string& bytes, const std::string& file,
                                std::map<std::string, std::string>* metadata) {
  if (bytes.size() >= 4 && bytes.compare(0, 4, "PK\x03\x04") == 0) return read_torch_zip(bytes, file);
  if (bytes.size() >= 2 && uint8_t(bytes[0]) == 0x80 && uint8_t(bytes[1]) <= 5) {
    MUST_THROW(Error, "'", file, "' is a legacy (pre-1.6) torch.save file; re-save it with a current PyTorch");
  }
  if (bytes.size() >= 9 && bytes[8] == '{') return read_safetensors(bytes, file, metadata);
  MUST_THROW(Error, "'", file, "' is neither a torch.save (.pth) nor a .safetensors file");
}

void write_safetensors(const fs::path& path, const StateDict& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  std::vector<torch::Tensor> contiguous;
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    std::string dtype;
    for (const auto& [key, type] : safetensors_dtypes()) {
      if (type == cpu.scalar_type()) dtype = key;
    }
    MUST_CHECK(!dtype.empty(), "cannot write tensor '", name, "' of type ", cpu.scalar_type(), " as safetensors");
    header[name] = {{"dtype", dtype}, {"shape", cpu.sizes().vec()}, {"data_offsets", {data.size(), data.size() + cpu.nbytes()}}};
    data.append(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes());
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data to 8 bytes, as the format allows
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(text.size()) >> (8 * i)) & 0xFF);
  out += text;
  out += data;
  atomic_write_file(path, out);
}

StateDict module_state_dict(const torch::nn::Module& module) {
  StateDict out;
  for (const auto& item : module.named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

}  // namespace must::models
