// YAML configuration: `_base_` inheritance, `--set` overrides, validation against the tool's defaults,
// typed getters whose errors name the key and the file that set it.
//
// Resolution, in order:
//   1. The tool's defaults: one commented YAML document per tool. They are the schema: every key a user may set
//      exists there, with a value of the type it takes. A map holding the key `_any_` is open: it takes keys
//      of any name, each filled from (and checked against) the `_any_` template. A config's own `_any_` changes
//      that template: its values reach every entry, the defaults' and the config's, under their own values.
//   2. The config file and its bases. `_base_: PATH` or `_base_: [PATH, ...]` (relative to the file) names
//      files merged first, in order; the file's own keys then win. Chains may be any depth; a cycle is an error.
//      Maps merge key by key; scalars and lists replace. A map holding `_delete_: true` replaces instead of
//      merging (and, under an open map, drops the default entries).
//   3. `--set a.b.c=VALUE` overrides, in order. VALUE is YAML (`--set model.depths=[2,2]`).
// A user key missing from the defaults is rejected with the nearest known key; a value whose type differs from
// the default's is rejected naming the key and where it was set. The resolved config is what tools write as
// `config.yaml` next to their outputs.
#pragma once

#include <yaml-cpp/node/node.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "must/core/task.h"

namespace must::config {

class Config {
 public:
  // defaults_yaml: the tool's defaults document. file: may be empty (defaults + overrides only).
  // Throws must::ConfigError (malformed YAML, missing file, unknown key, wrong type) naming the file and key.
  static Config load(std::string_view defaults_yaml, const std::filesystem::path& file,
                     const std::vector<std::string>& overrides = {});

  // A view of the subtree at `key` ("world.scene"); errors from it still name full keys.
  Config at(std::string_view key) const;
  bool has(std::string_view key) const;
  // Keys of the map at this view (or at `key`), in document order.
  std::vector<std::string> keys(std::string_view key = "") const;

  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  std::vector<int64_t> get_int_list(std::string_view key) const;
  std::vector<double> get_float_list(std::string_view key) const;
  std::vector<std::string> get_string_list(std::string_view key) const;

  // Range-checked numbers: a value outside the range fails naming the key ("must be positive", "must not be
  // negative", "must lie in [0, 1]").
  int64_t get_positive_int(std::string_view key) const;
  int64_t get_non_negative_int(std::string_view key) const;
  double get_positive_float(std::string_view key) const;
  double get_non_negative_float(std::string_view key) const;
  double get_float_in(std::string_view key, double low, double high) const;  // low <= value <= high
  // Tasks (core/task.h) by name: the string at `key`, each string of the list at `key`, or the map key `key`
  // itself (teachers.<task>, weights.<task>). An unknown name fails naming the key and listing the tasks.
  Task get_task(std::string_view key) const;
  std::vector<Task> get_task_list(std::string_view key) const;
  Task task_named_by(std::string_view key) const;

  // Where `key` was set: a file path, "--set", or "defaults".
  std::string source(std::string_view key) const;
  // Throws must::ConfigError "<source>: key '<full key>': <message>", for range checks done by callers.
  [[noreturn]] void fail(std::string_view key, std::string_view message) const;

  // The full key of `key` under this view ("world.scene" + "fov_deg").
  std::string full_key(std::string_view key) const;
  std::string dump() const;                              // resolved YAML of this view
  std::string dump_one_line() const;  // the same in flow style on one line: what --set takes as a value
  // Leaves under this view that no getter has read yet (through any view of the same config): a key a tool's
  // schema offers but nothing consumes shows up here (tested for every tool).
  std::vector<std::string> unread_keys() const;
  void write(const std::filesystem::path& path) const;   // atomic

  struct Provenance;  // dotted key -> where it was set

 private:
  Config(YAML::Node root, std::string prefix, std::shared_ptr<const Provenance> provenance);
  YAML::Node node(std::string_view key) const;  // throws when missing
  void mark_read(std::string_view key) const;
  template <class T>
  T scalar(std::string_view key, const char* what) const;

  YAML::Node root_;
  std::string prefix_;
  std::shared_ptr<const Provenance> provenance_;
};

}  // namespace must::config
