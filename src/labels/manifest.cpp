#include "must/labels/manifest.h"

#include "must/core/check.h"
#include "must/core/fs.h"

namespace must::labels {
namespace {

nlohmann::json failed_json(const std::vector<FailedImage>& failed) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : failed) out.push_back({{"index", f.index}, {"source", f.source}, {"reason", f.reason}});
  return out;
}

std::vector<FailedImage> failed_from_json(const nlohmann::json& json) {
  std::vector<FailedImage> failed;
  for (const auto& f : json) {
    failed.push_back({f.at("index").get<int64_t>(), f.at("source").get<std::string>(), f.at("reason").get<std::string>()});
  }
  return failed;
}

nlohmann::json to_json(const TeacherRecord& t) {
  return {{"task", std::string(task_name(t.task))}, {"kind", t.kind}, {"config", t.config}, {"weights", t.weights},
          {"weights_sha256", t.weights_sha256}, {"resolved_config", t.resolved_config},
          {"batch_size", t.batch_size}, {"lr", t.lr}, {"depth", t.depth}};
}

TeacherRecord teacher_from_json(const nlohmann::json& json) {
  TeacherRecord t;
  t.task = task_from_name(json.at("task").get<std::string>());
  t.config = json.at("config").get<std::string>();
  t.weights = json.at("weights").get<std::string>();
  t.weights_sha256 = json.at("weights_sha256").get<std::string>();
  t.resolved_config = json.at("resolved_config").get<std::string>();
  t.batch_size = json.at("batch_size").get<int64_t>();
  t.lr = json.at("lr").get<double>();
  t.kind = json.value("kind", std::string("native"));
  t.depth = json.value("depth", std::string("metric"));
  return t;
}

nlohmann::json to_json(const InputRecord& input) {
  return {{"format", input.format}, {"root", input.root}, {"split", input.split}, {"count", input.count},
          {"list_sha256", input.list_sha256}};
}

InputRecord input_from_json(const nlohmann::json& json) {
  return {json.at("format").get<std::string>(), json.at("root").get<std::string>(), json.at("split").get<std::string>(),
          json.at("count").get<int64_t>(), json.at("list_sha256").get<std::string>()};
}

std::vector<std::string> task_names(const std::vector<Task>& tasks) {
  std::vector<std::string> names;
  for (Task task : tasks) names.emplace_back(task_name(task));
  return names;
}

}  // namespace

nlohmann::json to_json(const ShardRecord& r) {
  return {{"name", r.name},     {"first", r.first},           {"count", r.count},
          {"bytes", r.bytes},   {"sha256", r.sha256},         {"idx_sha256", r.idx_sha256},
          {"failed", failed_json(r.failed)}};
}

ShardRecord shard_record_from_json(const nlohmann::json& json, const std::string& source) {
  try {
    ShardRecord r{json.at("name").get<std::string>(),   json.at("first").get<int64_t>(),
                  json.at("count").get<int64_t>(),      json.at("bytes").get<uint64_t>(),
                  json.at("sha256").get<std::string>(), json.at("idx_sha256").get<std::string>(),
                  {}};
    r.failed = failed_from_json(json.value("failed", nlohmann::json::array()));
    return r;
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, source, ": not a shard record (", e.what(), ")");
  }
}

nlohmann::json to_json(const Manifest& m) {
  nlohmann::json json = {{"format", m.format},          {"tasks", task_names(m.tasks)},
                         {"teachers", nlohmann::json::array()}, {"policy", to_json(m.policy)},
                         {"input", to_json(m.input)},   {"shard_size", m.shard_size}};
  for (const auto& teacher : m.teachers) json["teachers"].push_back(to_json(teacher));
  if (m.finished) {
    json["shards"] = nlohmann::json::array();
    for (const auto& shard : m.shards) {
      nlohmann::json entry = to_json(shard);
      entry.erase("failed");  // the store's failed images are listed once, below
      json["shards"].push_back(entry);
    }
    json["failed"] = failed_json(m.failed);
  }
  return json;
}

Manifest manifest_from_json(const nlohmann::json& json, const std::string& source) {
  const std::string format = json.is_object() ? json.value("format", "missing") : "missing";
  MUST_CHECK(format == kStoreFormat, source, ": store format '", format, "' is not ", kStoreFormat,
             ", the one this version reads", format.rfind("must-labels-", 0) == 0 ? "; label the images again with "
             "must_pseudolabel into a new --output-dir" : " (is this a pseudo-label store?)");
  try {
    Manifest m;
    for (const auto& name : json.at("tasks")) m.tasks.push_back(task_from_name(name.get<std::string>()));
    for (const auto& teacher : json.at("teachers")) m.teachers.push_back(teacher_from_json(teacher));
    m.policy = label_policy_from_json(json.at("policy"), source);
    m.input = input_from_json(json.at("input"));
    m.shard_size = json.at("shard_size").get<int64_t>();
    m.finished = json.contains("shards");
    if (m.finished) {
      for (const auto& shard : json.at("shards")) m.shards.push_back(shard_record_from_json(shard, source));
      m.failed = failed_from_json(json.at("failed"));
    }
    return m;
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, source, ": not a pseudo-label store manifest (", e.what(), ")");
  } catch (const ConfigError& e) {  // an unknown task name
    MUST_THROW(Error, source, ": ", e.what());
  }
}

Manifest read_manifest(const std::filesystem::path& store) {
  const std::filesystem::path path = store / "manifest.json";
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, path.string(), ": not valid JSON (", e.what(), ")");
  }
  return manifest_from_json(json, path.string());
}

void write_manifest(const std::filesystem::path& store, const Manifest& manifest) {
  atomic_write_file(store / "manifest.json", to_json(manifest).dump(1) + "\n");
}

std::optional<std::string> plan_difference(const Manifest& existing, const Manifest& planned) {
  auto differs = [](const std::string& what, const nlohmann::json& a, const nlohmann::json& b) -> std::optional<std::string> {
    if (a == b) return std::nullopt;
    return what + " (" + a.dump() + ", now " + b.dump() + ")";
  };
  std::vector<std::optional<std::string>> differences = {
      differs("format", existing.format, planned.format),
      differs("task list", task_names(existing.tasks), task_names(planned.tasks))};
  for (size_t i = 0; i < planned.teachers.size() && i < existing.teachers.size(); ++i) {
    const std::string task(task_name(planned.teachers[i].task));
    differences.push_back(differs("weights for " + task, existing.teachers[i].weights_sha256, planned.teachers[i].weights_sha256));
    differences.push_back(differs("kind of teacher for " + task, existing.teachers[i].kind, planned.teachers[i].kind));
    differences.push_back(differs("depth values for " + task, existing.teachers[i].depth, planned.teachers[i].depth));
    if (planned.teachers[i].kind == "torchscript") {  // its input normalisation and size change the labels
      differences.push_back(differs("teacher entry for " + task, existing.teachers[i].resolved_config,
                                    planned.teachers[i].resolved_config));
    }
  }
  differences.push_back(differs("input list", existing.input.list_sha256, planned.input.list_sha256));
  differences.push_back(differs("policy", to_json(existing.policy), to_json(planned.policy)));
  differences.push_back(differs("shard size", existing.shard_size, planned.shard_size));
  for (auto& difference : differences) {
    if (difference) return difference;
  }
  return std::nullopt;
}

}  // namespace must::labels
