#include "must/config/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <algorithm>
#include <mutex>
#include <set>
#include <sstream>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/strings.h"

namespace must::config {

struct Config::Provenance {
  std::map<std::string, std::string> sources;  // dotted key -> file path, "--set", ...
  mutable std::mutex mutex;
  mutable std::set<std::string> read;           // full keys of the leaves read so far
};

namespace {

namespace fs = std::filesystem;
using Sources = std::map<std::string, std::string>;

constexpr const char* kBaseKey = "_base_";
constexpr const char* kDeleteKey = "_delete_";
constexpr const char* kAnyKey = "_any_";

// A document (or a merge of documents) with the origin of each of its leaves.
struct Layer {
  YAML::Node node{YAML::NodeType::Map};
  Sources sources;
};

std::string child_key(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

bool is_under(const std::string& key, const std::string& prefix) {
  return prefix.empty() || key == prefix || (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0 &&
                                             (key[prefix.size()] == '.' || key[prefix.size()] == '['));
}

void erase_under(Sources& sources, const std::string& prefix) {
  for (auto it = sources.lower_bound(prefix); it != sources.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = is_under(it->first, prefix) ? sources.erase(it) : std::next(it);
  }
}

// Records `source` for every leaf of `node` (a map's own entry too, so empty maps have a source).
void record(const YAML::Node& node, const std::string& path, const std::string& source, Sources& sources) {
  sources[path] = source;
  if (!node.IsMap()) return;
  for (const auto& entry : node) record(entry.second, child_key(path, entry.first.Scalar()), source, sources);
}

// The origin of `key`: its own entry, else its nearest ancestor's.
std::string lookup_source(const Sources& sources, std::string key) {
  while (true) {
    const size_t bracket = key.find('[');
    if (bracket != std::string::npos) key.resize(bracket);
    auto it = sources.find(key);
    if (it != sources.end()) return it->second;
    const size_t dot = key.rfind('.');
    if (dot == std::string::npos) return "defaults";
    key.resize(dot);
  }
}

std::string describe(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "null";
  return "'" + node.Scalar() + "'";
}

// A value the user actually gave: `key:` with nothing after it means "keep the default".
bool present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

bool is_delete_marker(const YAML::Node& node) {
  if (!node.IsMap()) return false;
  const YAML::Node marker = node[kDeleteKey];
  return marker.IsDefined() && marker.IsScalar() && marker.Scalar() == "true";
}

void check_no_duplicate_keys(const YAML::Node& node, const std::string& path, const std::string& origin) {
  if (node.IsSequence()) {
    for (const auto& element : node) check_no_duplicate_keys(element, path, origin);
    return;
  }
  if (!node.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    if (!seen.insert(key).second) MUST_THROW(ConfigError, origin, ": duplicate key '", child_key(path, key), "'");
    check_no_duplicate_keys(entry.second, child_key(path, key), origin);
  }
}

YAML::Node parse_yaml(const std::string& text, const std::string& origin) {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    MUST_THROW(ConfigError, origin, ":", e.mark.line + 1, ":", e.mark.column + 1, ": malformed YAML: ", e.msg);
  }
  if (node.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!node.IsMap()) MUST_THROW(ConfigError, origin, ": the top level must be a mapping of keys, got ", describe(node));
  check_no_duplicate_keys(node, "", origin);
  return node;
}

// Merges `src` into `dst`: maps key by key, everything else (and maps marked _delete_) replaced.
void merge_into(Layer& dst, const YAML::Node& dst_node, const Layer& src, const YAML::Node& src_node,
                const std::string& path) {
  for (const auto& entry : src_node) {
    const std::string key = entry.first.Scalar();
    if (path.empty() && key == kBaseKey) continue;  // only the top level inherits; elsewhere it is a plain key
    const std::string full = child_key(path, key);
    YAML::Node target = dst_node[key];
    if (entry.second.IsMap() && target.IsDefined() && target.IsMap() && !is_delete_marker(entry.second)) {
      merge_into(dst, target, src, entry.second, full);
      continue;
    }
    YAML::Node mutable_dst = dst_node;
    mutable_dst[key] = YAML::Clone(entry.second);
    erase_under(dst.sources, full);
    for (auto it = src.sources.lower_bound(full); it != src.sources.end(); ++it) {
      if (it->first.compare(0, full.size(), full) != 0) break;
      if (is_under(it->first, full)) dst.sources[it->first] = it->second;
    }
  }
}

void merge_layer(Layer& dst, const Layer& src) { merge_into(dst, dst.node, src, src.node, ""); }

std::vector<std::string> base_list(const YAML::Node& node, const std::string& origin) {
  const YAML::Node bases = node[kBaseKey];
  if (!bases.IsDefined() || bases.IsNull()) return {};
  std::vector<std::string> out;
  if (bases.IsScalar()) return {bases.Scalar()};
  if (bases.IsSequence()) {
    for (const auto& base : bases) {
      if (!base.IsScalar()) MUST_THROW(ConfigError, origin, ": _base_ entries must be file paths, got ", describe(base));
      out.push_back(base.Scalar());
    }
    return out;
  }
  MUST_THROW(ConfigError, origin, ": _base_ must be a file path or a list of them, got ", describe(bases));
}

Layer load_file_chain(const fs::path& file, std::vector<fs::path>& stack) {
  const fs::path canonical = fs::weakly_canonical(file);
  for (const auto& open : stack) {
    if (open == canonical) MUST_THROW(ConfigError, file.string(), ": _base_ cycle: this file includes itself");
  }
  if (!fs::is_regular_file(file)) MUST_THROW(ConfigError, "config file '", file.string(), "' not found");
  const std::string origin = file.string();
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  const YAML::Node own = parse_yaml(text, origin);

  stack.push_back(canonical);
  Layer merged;
  for (const auto& base : base_list(own, origin)) {
    const fs::path base_path = file.parent_path() / base;
    if (!fs::is_regular_file(base_path)) {
      MUST_THROW(ConfigError, origin, ": _base_ file '", base, "' not found (looked for '", base_path.string(), "')");
    }
    merge_layer(merged, load_file_chain(base_path, stack));
  }
  stack.pop_back();

  Layer own_layer;
  own_layer.node.reset(own);
  for (const auto& entry : own) {
    if (entry.first.Scalar() != kBaseKey) record(entry.second, entry.first.Scalar(), origin, own_layer.sources);
  }
  merge_layer(merged, own_layer);
  return merged;
}

Layer override_layer(const std::string& assignment) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    MUST_THROW(ConfigError, "--set '", assignment, "': expected KEY=VALUE, e.g. --set world.seed=3");
  }
  const std::string key = assignment.substr(0, equals);
  const std::string origin = "--set " + key;
  Layer layer;
  YAML::Node value = parse_yaml("value: " + assignment.substr(equals + 1), origin)["value"];
  const auto parts = split(key, '.');
  for (const auto& part : parts) {
    if (part.empty()) MUST_THROW(ConfigError, "--set '", assignment, "': malformed key '", key, "'");
  }
  for (size_t i = parts.size(); i-- > 1;) {
    YAML::Node parent(YAML::NodeType::Map);
    parent[parts[i]] = value;
    value.reset(parent);  // reset, not =: Node::operator= writes through to the referenced node
  }
  layer.node[parts[0]] = value;
  record(value, parts[0], origin, layer.sources);
  return layer;
}

enum class ScalarType { kBool, kInt, kFloat, kString };

bool parses_as_int(const std::string& text, int64_t* out = nullptr) {
  int64_t value = 0;
  const char* begin = text.data() + (!text.empty() && text[0] == '+' ? 1 : 0);
  const auto result = std::from_chars(begin, text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size() || text.empty()) return false;
  if (out) *out = value;
  return true;
}

bool parses_as_float(const std::string& text, double* out = nullptr) {
  static const std::map<std::string, double> kSpecial = {
      {".inf", HUGE_VAL}, {"+.inf", HUGE_VAL}, {"-.inf", -HUGE_VAL}, {".nan", NAN}, {".Inf", HUGE_VAL},
      {"-.Inf", -HUGE_VAL}, {".NaN", NAN}};
  auto special = kSpecial.find(text);
  if (special != kSpecial.end()) {
    if (out) *out = special->second;
    return true;
  }
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE) return false;
  if (out) *out = value;
  return true;
}

ScalarType scalar_type(const YAML::Node& node) {
  if (node.Tag() == "!") return ScalarType::kString;  // quoted: a string whatever it looks like
  const std::string& text = node.Scalar();
  if (text == "true" || text == "false") return ScalarType::kBool;
  if (parses_as_int(text)) return ScalarType::kInt;
  if (parses_as_float(text)) return ScalarType::kFloat;
  return ScalarType::kString;
}

const char* type_noun(ScalarType type) {
  switch (type) {
    case ScalarType::kBool: return "a boolean (true/false)";
    case ScalarType::kInt: return "an integer";
    case ScalarType::kFloat: return "a number";
    case ScalarType::kString: return "a string";
  }
  return "?";
}

bool accepts(ScalarType expected, ScalarType given) {
  return expected == given || expected == ScalarType::kString ||
         (expected == ScalarType::kFloat && given == ScalarType::kInt);
}

class Resolver {
 public:
  explicit Resolver(const Sources& sources) : sources_(sources) {}

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    MUST_THROW(ConfigError, lookup_source(sources_, key), ": key '", key, "': ", message);
  }

  // The defaults (`schema`) overlaid with the user's value, checked.
  YAML::Node resolve(const YAML::Node& schema, const YAML::Node& user, const std::string& path) const {
    const bool has_user = present(user);
    if (schema.IsMap()) return resolve_map(schema, user, path);
    if (!has_user) return YAML::Clone(schema);
    if (schema.IsNull()) return YAML::Clone(user);
    if (schema.IsSequence()) {
      if (!user.IsSequence()) fail(path, "expected a list, got " + describe(user));
      if (schema.size() == 0) return YAML::Clone(user);
      YAML::Node out(YAML::NodeType::Sequence);
      for (size_t i = 0; i < user.size(); ++i) {
        out.push_back(resolve(schema[0], user[i], path + "[" + std::to_string(i) + "]"));
      }
      return out;
    }
    if (!user.IsScalar()) fail(path, std::string("expected ") + type_noun(scalar_type(schema)) + ", got " + describe(user));
    const ScalarType expected = scalar_type(schema);
    if (!accepts(expected, scalar_type(user))) {
      fail(path, std::string("expected ") + type_noun(expected) + ", got " + describe(user));
    }
    return YAML::Clone(user);
  }

 private:
  YAML::Node resolve_map(const YAML::Node& schema, const YAML::Node& user, const std::string& path) const {
    const bool has_user = present(user);
    if (has_user && !user.IsMap()) fail(path, "expected a mapping, got " + describe(user));
    YAML::Node any = schema[kAnyKey];
    const bool open = any.IsDefined();
    // A user's `_any_` changes the template itself, so one setting reaches every entry of the open map.
    if (open && has_user && user.IsMap() && present(user[kAnyKey])) {
      any = resolve(any, user[kAnyKey], child_key(path, kAnyKey));
    }
    const bool drop_defaults = open && has_user && is_delete_marker(user);
    std::vector<std::string> known;
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& entry : schema) {
      const std::string key = entry.first.Scalar();
      if (key == kAnyKey || drop_defaults) continue;
      known.push_back(key);
      const YAML::Node child_schema = open ? overlay(any, entry.second) : entry.second;
      out[key] = resolve(child_schema, has_user ? user[key] : user, child_key(path, key));
    }
    if (!has_user) return out;
    for (const auto& entry : user) {
      const std::string key = entry.first.Scalar();
      if (key == kDeleteKey || (open && key == kAnyKey) || out[key].IsDefined()) continue;
      if (!open) {
        const std::string hint = nearest_name(key, known);
        fail(child_key(path, key), "unknown key" + (hint.empty() ? "" : " (did you mean '" + child_key(path, hint) + "'?)") +
                                       (known.empty() ? "" : "; known keys here: " + join(known)));
      }
      out[key] = resolve(any, entry.second, child_key(path, key));
    }
    return out;
  }

  // An open map's default entry: the template with the entry's own values on top.
  static YAML::Node overlay(const YAML::Node& base, const YAML::Node& top) {
    if (!base.IsMap() || !top.IsMap()) return top;
    YAML::Node out = YAML::Clone(base);
    for (const auto& entry : top) out[entry.first.Scalar()] = overlay(base[entry.first.Scalar()], entry.second);
    return out;
  }

  const Sources& sources_;
};

}  // namespace

Config::Config(YAML::Node root, std::string prefix, std::shared_ptr<const Provenance> provenance)
    : root_(std::move(root)), prefix_(std::move(prefix)), provenance_(std::move(provenance)) {}

Config Config::load(std::string_view defaults_yaml, const fs::path& file, const std::vector<std::string>& overrides) {
  const YAML::Node schema = parse_yaml(std::string(defaults_yaml), "defaults");
  Layer user;
  if (!file.empty()) {
    std::vector<fs::path> stack;
    user = load_file_chain(file, stack);
  }
  for (const auto& assignment : overrides) merge_layer(user, override_layer(assignment));
  auto provenance = std::make_shared<Provenance>();
  provenance->sources = user.sources;
  YAML::Node resolved = Resolver(provenance->sources).resolve(schema, user.node, "");
  return Config(resolved, "", provenance);
}

std::string Config::full_key(std::string_view key) const {
  if (key.empty()) return prefix_;
  return child_key(prefix_, std::string(key));
}

std::string Config::source(std::string_view key) const { return lookup_source(provenance_->sources, full_key(key)); }

void Config::fail(std::string_view key, std::string_view message) const {
  MUST_THROW(ConfigError, source(key), ": key '", full_key(key), "': ", message);
}

YAML::Node Config::node(std::string_view key) const {
  YAML::Node current = root_;
  if (key.empty()) return current;
  for (const auto& part : split(key, '.')) {
    if (!current.IsMap() || !current[part].IsDefined()) {
      MUST_THROW(ConfigError, "config has no key '", full_key(key), "'");
    }
    current.reset(current[part]);
  }
  return current;
}

Config Config::at(std::string_view key) const { return Config(node(key), full_key(key), provenance_); }

bool Config::has(std::string_view key) const {
  YAML::Node current = root_;
  for (const auto& part : split(key, '.')) {
    if (!current.IsMap() || !current[part].IsDefined()) return false;
    current.reset(current[part]);
  }
  return true;
}

std::vector<std::string> Config::keys(std::string_view key) const {
  const YAML::Node map = node(key);
  if (!map.IsMap()) fail(key, "expected a mapping, got " + describe(map));
  std::vector<std::string> out;
  for (const auto& entry : map) out.push_back(entry.first.Scalar());
  return out;
}

namespace {

template <class T>
bool convert_scalar(const YAML::Node& node, T* out);

template <>
bool convert_scalar(const YAML::Node& node, int64_t* out) {
  return node.IsScalar() && node.Tag() != "!" && parses_as_int(node.Scalar(), out);
}
template <>
bool convert_scalar(const YAML::Node& node, double* out) {
  return node.IsScalar() && node.Tag() != "!" && parses_as_float(node.Scalar(), out);
}
template <>
bool convert_scalar(const YAML::Node& node, bool* out) {
  if (!node.IsScalar() || (node.Scalar() != "true" && node.Scalar() != "false")) return false;
  *out = node.Scalar() == "true";
  return true;
}
template <>
bool convert_scalar(const YAML::Node& node, std::string* out) {
  if (!node.IsScalar()) return false;
  *out = node.Scalar();
  return true;
}

}  // namespace

void Config::mark_read(std::string_view key) const {
  std::lock_guard<std::mutex> lock(provenance_->mutex);
  provenance_->read.insert(full_key(key));
}

template <class T>
T Config::scalar(std::string_view key, const char* what) const {
  mark_read(key);
  const YAML::Node value = node(key);
  T out{};
  if (!convert_scalar(value, &out)) fail(key, std::string("expected ") + what + ", got " + describe(value));
  return out;
}

int64_t Config::get_int(std::string_view key) const { return scalar<int64_t>(key, "an integer"); }

int64_t Config::get_positive_int(std::string_view key) const {
  const int64_t value = get_int(key);
  if (value <= 0) fail(key, "must be positive");
  return value;
}

int64_t Config::get_non_negative_int(std::string_view key) const {
  const int64_t value = get_int(key);
  if (value < 0) fail(key, "must not be negative");
  return value;
}

double Config::get_positive_float(std::string_view key) const {
  const double value = get_float(key);
  if (!(value > 0)) fail(key, "must be positive");
  return value;
}

double Config::get_non_negative_float(std::string_view key) const {
  const double value = get_float(key);
  if (!(value >= 0)) fail(key, "must not be negative");
  return value;
}

double Config::get_float_in(std::string_view key, double low, double high) const {
  const double value = get_float(key);
  if (!(value >= low && value <= high)) {
    std::ostringstream range;
    range << "must lie in [" << low << ", " << high << "]";
    fail(key, range.str());
  }
  return value;
}

Task Config::task_named_by(std::string_view key) const {
  const std::string name = split(key, '.').back();
  try {
    return task_from_name(name);
  } catch (const ConfigError& e) {
    fail(key, e.what());
  }
}

Task Config::get_task(std::string_view key) const {
  const std::string name = get_string(key);
  try {
    return task_from_name(name);
  } catch (const ConfigError& e) {
    fail(key, e.what());
  }
}
double Config::get_float(std::string_view key) const { return scalar<double>(key, "a number"); }
bool Config::get_bool(std::string_view key) const { return scalar<bool>(key, "a boolean (true/false)"); }
std::string Config::get_string(std::string_view key) const { return scalar<std::string>(key, "a string"); }

namespace {

template <class T>
std::vector<T> list_of(const Config& config, const YAML::Node& list, std::string_view key, const char* what) {
  if (!list.IsSequence()) config.fail(key, std::string("expected a list of ") + what + ", got " + describe(list));
  std::vector<T> out(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    if (!convert_scalar(list[i], &out[i])) {
      config.fail(key, std::string("expected a list of ") + what + ", element " + std::to_string(i) + " is " +
                           describe(list[i]));
    }
  }
  return out;
}

}  // namespace

std::vector<int64_t> Config::get_int_list(std::string_view key) const {
  mark_read(key);
  return list_of<int64_t>(*this, node(key), key, "integers");
}
std::vector<double> Config::get_float_list(std::string_view key) const {
  mark_read(key);
  return list_of<double>(*this, node(key), key, "numbers");
}
std::vector<Task> Config::get_task_list(std::string_view key) const {
  std::vector<Task> tasks;
  for (const std::string& name : get_string_list(key)) {
    try {
      tasks.push_back(task_from_name(name));
    } catch (const ConfigError& e) {
      fail(key, e.what());
    }
  }
  return tasks;
}

std::vector<std::string> Config::get_string_list(std::string_view key) const {
  mark_read(key);
  return list_of<std::string>(*this, node(key), key, "strings");
}

namespace {

void collect_leaves(const YAML::Node& node, const std::string& path, std::vector<std::string>& out) {
  if (node.IsMap()) {
    for (const auto& entry : node) collect_leaves(entry.second, child_key(path, entry.first.Scalar()), out);
    return;
  }
  out.push_back(path);
}

}  // namespace

std::vector<std::string> Config::unread_keys() const {
  std::vector<std::string> leaves, out;
  collect_leaves(root_, prefix_, leaves);
  std::lock_guard<std::mutex> lock(provenance_->mutex);
  for (const auto& key : leaves) {
    if (!provenance_->read.count(key)) out.push_back(key);
  }
  return out;
}

namespace {

// Lists of scalars on one line, everything else in block style (or, with `one_line`, everything in flow style),
// whatever style the sources used: the same resolution always dumps to the same text.
void emit(YAML::Emitter& out, const YAML::Node& node, bool one_line) {
  if (node.IsMap()) {
    if (one_line) out << YAML::Flow;
    out << YAML::BeginMap;
    for (const auto& entry : node) {
      out << YAML::Key << entry.first.Scalar() << YAML::Value;
      emit(out, entry.second, one_line);
    }
    out << YAML::EndMap;
  } else if (node.IsSequence()) {
    const bool flat = std::all_of(node.begin(), node.end(), [](const YAML::Node& e) { return e.IsScalar(); });
    out << (flat || one_line ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
    for (const auto& element : node) emit(out, element, one_line);
    out << YAML::EndSeq;
  } else if (node.IsScalar() && node.Tag() == "!") {
    out << YAML::DoubleQuoted << node.Scalar();  // keep quoted strings strings
  } else {
    out << node;
  }
}

}  // namespace

std::string Config::dump() const {
  YAML::Emitter out;
  emit(out, root_, false);
  return out.c_str();
}

std::string Config::dump_one_line() const {
  YAML::Emitter out;
  emit(out, root_, true);
  return out.c_str();
}

void Config::write(const fs::path& path) const { atomic_write_file(path, dump() + "\n"); }

}  // namespace must::config
