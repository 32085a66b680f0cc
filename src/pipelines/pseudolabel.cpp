#include "must/pipelines/pseudolabel.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <set>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/sha256.h"
#include "must/data/data_config.h"
#include "must/data/decode.h"
#include "must/data/image_io.h"
#include "must/data/loader.h"
#include "must/data/task_view.h"
#include "must/eval/prediction_mapping.h"
#include "must/labels/label_codec.h"
#include "must/labels/manifest.h"
#include "must/labels/policy.h"
#include "must/labels/store.h"
#include "must/models/model_config.h"
#include "must/models/script_teacher.h"
#include "must/models/weight_import.h"
#include "must/pipelines/evaluate.h"
#include "teacher_lanes.h"

namespace must::pipelines {
namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

// A teacher: our own architecture (config + weights) or a TorchScript export.
struct Teacher {
  labels::TeacherRecord record;  // what the manifest says of it
  models::MultiTaskModel model{nullptr};
  std::unique_ptr<models::ScriptTeacher> script;

  models::ModelOutput forward(const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes) {
    return script ? script->forward(images, sizes) : model->forward(images, nullptr, sizes);
  }
};

labels::LabelPolicy policy_from_config(const config::Config& policy, const config::Config& store) {
  labels::LabelPolicy p;
  p.temperature = policy.get_positive_float("classification.temperature");
  p.top_k = policy.get_non_negative_int("classification.top_k");
  p.score_threshold = policy.get_float("detection.score_threshold");
  p.confidence_threshold = policy.get_float_in("segmentation.confidence_threshold", 0, 1);
  p.flip = policy.get_bool("flip");
  const std::vector<int64_t> size = store.get_int_list("dense_size");
  if (size.size() != 2 || size[0] < 0 || size[1] < 0 || (size[0] == 0) != (size[1] == 0)) {
    store.fail("dense_size", "must be [height, width], or [0, 0] for each image's own size");
  }
  p.dense_size = {size[0], size[1]};
  p.pack_images = store.get_bool("pack_images");
  return p;
}

// A teacher of our architecture: built from its training config, its weights loaded.
void load_native_teacher(const config::Config& entry, Teacher& t) {
  labels::TeacherRecord& r = t.record;
  const std::string name(task_name(r.task));
  r.config = entry.get_string("config");
  r.weights = entry.get_string("weights");
  if (r.config.empty()) entry.fail("config", "names no teacher config (or give torchscript: FILE)");
  if (entry.get_int_list("size") != std::vector<int64_t>{0, 0}) {
    entry.fail("size", "resizes a TorchScript teacher's input; a native teacher takes the images as data.augment gives them");
  }
  if (!fs::exists(r.weights)) entry.fail("weights", "no such file: " + r.weights);
  const config::Config teacher = config::Config::load(eval_schema(), r.config);
  const models::MultiTaskModelOptions options = models::model_options_from_config(teacher.at("model"));
  bool has_head = false;
  for (const auto& head : options.heads) has_head = has_head || head.task == r.task;
  if (!has_head) entry.fail("config", r.config + " has no " + name + " head");
  t.model = models::MultiTaskModel(options);
  models::load_complete_weights(*t.model, r.weights);
  t.model->eval();
  r.batch_size = teacher.get_int("data.loader.batch_size");
  r.lr = teacher.get_float("train.optimizer.lr");
  r.resolved_config = teacher.dump();
}

// A TorchScript teacher: the export and its entry's input rule (mean, std, size); the batch's normalisation is
// data.augment's.
void load_script_teacher(const config::Config& entry, const config::Config& augment, Teacher& t) {
  labels::TeacherRecord& r = t.record;
  if (!entry.get_string("config").empty() || !entry.get_string("weights").empty()) {
    entry.fail("torchscript", "a TorchScript teacher is its file alone: drop config and weights");
  }
  models::ScriptTeacherOptions options;
  options.file = entry.get_string("torchscript");
  options.task = r.task;
  const data::Normalization own = data::normalization_from_config(entry);
  options.mean = own.mean;
  options.std = own.std;
  const std::vector<int64_t> size = entry.get_int_list("size");
  if (size.size() != 2 || size[0] < 0 || size[1] < 0 || (size[0] == 0) != (size[1] == 0)) {
    entry.fail("size", "must be [height, width], or [0, 0] for the images as data.augment gives them");
  }
  options.size = {size[0], size[1]};
  const data::Normalization batch = data::normalization_from_config(augment);
  options.batch_mean = batch.mean;
  options.batch_std = batch.std;
  if (!fs::exists(options.file)) entry.fail("torchscript", "no such file: " + options.file.string());
  t.script = std::make_unique<models::ScriptTeacher>(options);
  r.kind = "torchscript";
  r.weights = options.file.string();
  r.resolved_config = entry.dump();
}

// Each teacher of `teachers:` loaded, in inference mode on the device.
std::vector<Teacher> load_teachers(const config::Config& teachers, const config::Config& augment, const torch::Device& device) {
  std::vector<Teacher> out;
  for (const std::string& name : teachers.keys()) {
    const config::Config entry = teachers.at(name);
    Teacher t;
    labels::TeacherRecord& r = t.record;
    r.task = teachers.task_named_by(name);
    r.depth = entry.get_string("depth");
    if (r.depth != "metric" && r.depth != "relative" && r.depth != "inverse_relative") {
      entry.fail("depth", "must be metric, relative or inverse_relative");
    }
    if (r.depth != "metric" && task_spec(r.task).target != TargetKind::kFloatMap) {
      entry.fail("depth", "says what a depth teacher's values are; a " + name + " teacher has none");
    }
    if (entry.get_string("torchscript").empty()) {
      load_native_teacher(entry, t);
      t.model->to(device);
      if (device.is_cpu()) t.model->fuse_for_inference();  // oneDNN convolutions with batch norm folded in
    } else {
      load_script_teacher(entry, augment, t);
      t.script->to(device);
    }
    r.weights_sha256 = sha256_file(r.weights);
    out.push_back(std::move(t));
  }
  if (out.empty()) teachers.fail("", "names no teacher");
  return out;
}

// The manifest's plan: what must agree between the runs that write one store.
labels::Manifest plan(const std::vector<Teacher>& teachers, const labels::LabelPolicy& policy,
                      const data::Dataset& input, const data::DatasetOptions& input_options, int64_t shard_size) {
  labels::Manifest manifest;
  for (const auto& t : teachers) {
    manifest.tasks.push_back(t.record.task);
    manifest.teachers.push_back(t.record);
  }
  manifest.policy = policy;
  manifest.input = {input_options.format, input_options.root.string(), input_options.split, input.size(),
                    labels::input_list_sha256(input)};
  manifest.shard_size = shard_size;
  return manifest;
}

// The plan checked against the store's (a store is never continued with other teachers, inputs or policy), or
// written for a new store; stale temporaries removed. Every rank waits for rank 0's check.
void start_store(const labels::Manifest& planned, const PseudolabelRun& run) {
  const fs::path manifest_path = run.store / "manifest.json";
  if (fs::exists(manifest_path)) {  // a store of another format version is refused, naming it
    const std::optional<std::string> difference = labels::plan_difference(labels::read_manifest(run.store), planned);
    if (difference) {
      MUST_THROW(ConfigError, manifest_path.string(), " was written with another ", *difference,
                 ": a store is never continued with other teachers, inputs or policy; choose another --output-dir");
    }
  } else if (run.rank == 0) {
    labels::write_manifest(run.store, planned);
  }
  if (run.rank == 0) {  // a killed run's temporaries (`<name>.tmp.<pid>`): never final, and their shards are redone
    const fs::path shards = run.store / "shards";
    if (fs::exists(shards)) {
      for (const auto& entry : fs::directory_iterator(shards)) {
        if (entry.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(entry.path());
      }
    }
  }
  if (run.plan_checked) run.plan_checked();
}

// [C, h, w] over the image's pixels in the batch -> [C, H, W] over the stored pixels.
torch::Tensor to_stored_pixels(const torch::Tensor& map, const data::Geometry& geometry, const labels::LabelPolicy& policy) {
  if (policy.dense_size[0] == 0) return eval::map_to_original(map, geometry);
  // After a plain resize the map covers the whole image already: one resize to the stored size, not two.
  const torch::Tensor whole = geometry.is_resize() ? map : eval::map_to_original(map, geometry);
  return F::interpolate(whole.unsqueeze(0), F::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{policy.dense_size[0], policy.dense_size[1]})
                                                .mode(torch::kBilinear)
                                                .align_corners(false))[0];
}

// An image's detections as Instances, boxes as corners in the original image's pixels.
structures::Instances detections_of(const std::vector<eval::DetectedBox>& boxes) {
  std::vector<float> corners;
  std::vector<int64_t> classes;
  std::vector<float> scores;
  for (const auto& b : boxes) {
    corners.insert(corners.end(), {float(b.box.x), float(b.box.y), float(b.box.x + b.box.w), float(b.box.y + b.box.h)});
    classes.push_back(b.category);
    scores.push_back(float(b.score));
  }
  structures::Instances detections;
  detections.boxes = torch::tensor(corners, torch::kFloat).view({int64_t(classes.size()), 4});
  detections.labels = torch::tensor(classes, torch::kLong);
  detections.scores = torch::tensor(scores, torch::kFloat);
  return detections;
}

// Every image's pseudo label of `task` from the teacher's output on the batch, into `labels` (Sample layouts).
void apply_policy(Task task, const models::ModelOutput& output, const data::Batch& batch,
                  const labels::LabelPolicy& policy, std::vector<data::Sample>& labels) {
  if (task_spec(task).target == TargetKind::kBoxes) {
    const std::vector<eval::ImagePrediction> predictions = eval::image_predictions(task, output, batch);
    for (size_t i = 0; i < labels.size(); ++i) {
      labels[i].instances = labels::kept_detections(detections_of(predictions[i].detections), policy);
    }
    return;
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    torch::Tensor prediction = output.predictions.at(task)[int64_t(i)].detach().to(torch::kCPU, torch::kFloat);
    if (task_spec(task).target != TargetKind::kClassVector) {  // a map: onto the stored pixels
      const auto [h, w] = batch.images.image_sizes[i];
      prediction = to_stored_pixels(prediction.narrow(1, 0, h).narrow(2, 0, w), batch.geometry[i], policy);
    }
    labels::label_from_prediction(task, prediction, policy, labels[i]);
  }
}

// One teacher's labels of one batch: its output through the policy, encoded per image (store member bytes).
std::vector<std::string> label_batch(Teacher& teacher, const data::Batch& batch, const torch::Tensor& images,
                                     const labels::LabelPolicy& policy) {
  models::ModelOutput output = teacher.forward(images, batch.images.image_sizes);
  if (policy.flip) {
    const models::ModelOutput flipped =
        teacher.forward(eval::flip_images(images, batch.images.image_sizes), batch.images.image_sizes);
    for (auto& [task, prediction] : output.predictions) {
      prediction = eval::merge_flipped(
          task, prediction, eval::unflip_prediction(task, flipped.predictions.at(task), batch.images.image_sizes));
    }
  }
  std::vector<data::Sample> labels(batch.indices.size());
  apply_policy(teacher.record.task, output, batch, policy, labels);
  std::vector<std::string> encoded;
  for (const data::Sample& label : labels) encoded.push_back(labels::encode_label(teacher.record.task, label));
  return encoded;
}

// The image as the input has it, for a store that packs images: its file's bytes as they are (JPEG or PNG, the
// member named by their signature), or PNG when the reader decodes records itself (CIFAR, IDX) or the file is in
// another format. Returns {suffix, bytes}.
std::pair<std::string, std::string> packed_image(const data::Dataset& input, int64_t index) {
  data::Sample sample = input.get(index);
  const std::string_view format = data::encoded_image_format(sample.encoded);
  if (!format.empty()) return {std::string(format), std::move(sample.encoded)};
  sample.decode();
  const torch::Tensor image = sample.image.contiguous();
  MUST_CHECK(image.scalar_type() == torch::kUInt8 && image.dim() == 3 && image.size(2) == 3, sample.source,
             ": the reader gave no 8-bit RGB image to pack");
  return {"png", data::encode_png(image.data_ptr(), int(image.size(0)), int(image.size(1)), 3, 8)};
}

// What writing a shard needs besides the shard's own range.
struct ShardJob {
  fs::path store;
  std::shared_ptr<const data::Dataset> input;
  data::LoaderOptions loader_options;
  std::shared_ptr<const data::Transform> transform;
  const std::vector<Teacher>* teachers = nullptr;
  const labels::LabelPolicy* policy = nullptr;
};

// The store members of image i of a labelled batch: its record, each teacher's label, the image when packed.
std::vector<std::pair<std::string, std::string>> image_members(const ShardJob& job, TeacherLanes::Job& batch_job,
                                                               size_t i, int64_t index) {
  const data::Batch& batch = batch_job.batch;
  const std::string key = labels::key_of(index);
  const data::Geometry& g = batch.geometry[i];
  const std::array<int64_t, 2> stored_size = job.policy->dense_size[0] > 0 ? job.policy->dense_size : g.original_size;
  std::vector<std::pair<std::string, std::string>> members = {
      {key + ".json", nlohmann::json({{"index", index}, {"source", batch.sources[i]},
                                      {"original_size", {g.original_size[0], g.original_size[1]}},
                                      {"stored_size", {stored_size[0], stored_size[1]}}})
                          .dump()}};
  for (size_t t = 0; t < job.teachers->size(); ++t) {
    members.emplace_back(labels::member_name(key, (*job.teachers)[t].record.task), std::move(batch_job.labels[t][i]));
  }
  if (job.policy->pack_images) {
    auto [suffix, bytes] = packed_image(*job.input, index);
    members.emplace_back(key + "." + suffix, std::move(bytes));
  }
  return members;
}

// Writes input shard `shard`, images [first, first + count). Returns its record: the images labelled and the
// failed ones.
labels::ShardRecord write_shard(const ShardJob& job, int64_t shard, int64_t first, int64_t count, TeacherLanes& lanes) {
  labels::ShardWriter writer(job.store, shard, first);
  data::Loader loader(std::make_shared<data::TaskView>(job.input, std::vector<Task>{}, first, count), job.transform,
                      job.loader_options);
  loader.start_epoch(0);
  std::set<int64_t> stored;
  bool more = true;
  for (;;) {
    while (more && lanes.in_flight() < lanes.capacity()) {
      std::optional<data::Batch> batch = loader.next();
      if (batch) lanes.submit(std::move(*batch));
      more = batch.has_value();
    }
    if (lanes.in_flight() == 0) break;
    const std::unique_ptr<TeacherLanes::Job> labelled = lanes.take_oldest();
    for (size_t i = 0; i < labelled->batch.indices.size(); ++i) {
      const int64_t index = first + labelled->batch.indices[i];
      writer.add(labels::key_of(index), image_members(job, *labelled, i, index));
      stored.insert(labelled->batch.indices[i]);
    }
  }
  const data::LoaderStats& stats = loader.stats();
  for (size_t k = 0; k < stats.skipped_sources.size(); ++k) {
    // The failed image's index: the first of the shard's images not stored whose source matches.
    for (int64_t i = 0; i < count; ++i) {
      if (stored.count(i) || job.input->source(first + i) != stats.skipped_sources[k]) continue;
      writer.add_failed({first + i, stats.skipped_sources[k], stats.skipped_reasons[k]});
      stored.insert(i);
      break;
    }
  }
  return writer.commit();
}

// inference.lanes: how many teachers run at once, and each one's intra-op threads (this thread's count shared).
std::pair<int, int> lanes_from_config(const config::Config& inference, const torch::Device& device, size_t teachers) {
  const int threads = at::get_num_threads();
  int lanes = int(inference.get_non_negative_int("lanes"));
  if (lanes == 0) lanes = device.is_cpu() ? std::min(threads, int(teachers)) : 1;
  return {lanes, std::max(1, threads / lanes)};
}

// The shard's line in the log and its metrics: its images, time and rate, and each teacher's share of the time.
void report_shard(const labels::ShardRecord& record, double seconds, const std::vector<Teacher>& teachers,
                  const std::vector<double>& teacher_seconds, const PseudolabelRun& run, int64_t shard) {
  const double rate = double(record.count) / std::max(seconds, 1e-9);
  std::map<std::string, double> values = {{"pseudolabel/images", double(record.count)},
                                          {"pseudolabel/seconds", seconds},
                                          {"pseudolabel/images_per_s", rate},
                                          {"rank", double(run.rank)}};
  std::string per_teacher;
  for (size_t t = 0; t < teachers.size(); ++t) {
    const std::string_view task = task_name(teachers[t].record.task);
    per_teacher += fmt::format("{}{} {:.1f} s", t ? ", " : "", task, teacher_seconds[t]);
    values["pseudolabel/" + std::string(task) + "_seconds"] = teacher_seconds[t];
  }
  spdlog::info("{}: {} images{} in {:.1f} s ({:.2f} images/s; teachers' time: {})", record.name, record.count,
               record.failed.empty() ? "" : ", " + std::to_string(record.failed.size()) + " failed", seconds, rate,
               per_teacher);
  if (run.metrics) run.metrics(shard, values);
}

// The whole manifest once every shard is written: the plan, the shard table and the failed images.
labels::Manifest finished_manifest(labels::Manifest manifest, const fs::path& store, int64_t shards) {
  manifest.finished = true;
  for (int64_t shard = 0; shard < shards; ++shard) {
    std::string why;
    std::optional<labels::ShardRecord> record = labels::finished_shard(store, shard, &why);
    MUST_CHECK(record.has_value(), labels::shard_name(shard), " is not finished after every rank stopped (", why,
               "); rerun to complete the store");
    manifest.failed.insert(manifest.failed.end(), record->failed.begin(), record->failed.end());
    manifest.shards.push_back(std::move(*record));
  }
  return manifest;
}

}  // namespace

std::string_view pseudolabel_schema() {
  static const std::string defaults = R"yaml(
# Which teacher labels which task: one entry per task (classification, detection, segmentation, depth, normals).
teachers:
  _any_:
    config: ""                # the teacher's training config (its model: section builds the network)
    weights: ""               # its weights (model_final.safetensors, or any file --init-from takes)
    torchscript: ""           # instead of config + weights: a torch.jit.script / trace export of any architecture
                              # (docs/own_teachers.md has the input and output contract per task)
    mean: [0.485, 0.456, 0.406]  # torchscript: the module's input normalisation, on 0..1 pixels (a native teacher
                              # takes data.augment's)
    std: [0.229, 0.224, 0.225]   # (torchvision's detectors normalise themselves: mean [0, 0, 0], std [1, 1, 1])
    size: [0, 0]              # torchscript: [height, width] each image is resized to (bilinear); [0, 0]: as
                              # data.augment gives it
    depth: metric             # a depth teacher's values: metric (metres), relative or inverse_relative (MiDaS:
                              # disparity up to scale and shift); the student's default depth loss follows it
input:                        # the images to label: any dataset reader (its labels are not used))yaml" +
                                      std::string(data::dataset_defaults()) + R"yaml(data:                         # how the images go in: augment (resize, normalisation) and loader)yaml" +
                                      std::string(data::augment_and_loader_defaults()) + R"yaml(policy:
  classification: {temperature: 1.0, top_k: 0}   # soft labels softmax(logits / T); top_k > 0 keeps the k best
  detection: {score_threshold: 0.5}              # boxes kept after the detector's NMS
  segmentation: {confidence_threshold: 0.5}      # pixels less sure than this are stored as ignore (255)
  flip: false                 # average with the mirrored image's prediction (classification and dense tasks)
inference:
  libraries: []              # shared libraries of TorchScript operators loaded before the teachers: torchvision's
                              # _C.so (or libtorchvision.so) for its exported detectors' nms and roi_align
  lanes: 0                    # teachers run side by side on this many threads, the intra-op threads shared among
                              # them; 0: on a CPU one lane per thread (at most one per teacher), on a GPU one
store:
  shard_size: 1000            # images per input shard (a shard is the unit of work, resume and checksums)
  dense_size: [0, 0]          # [height, width] dense maps are stored at; [0, 0]: each image's own size
  pack_images: false          # also store each image (K.jpg / K.png: the input file's own bytes, or PNG), so the
                              # student reads images and labels from the store alone
)yaml";
  return defaults;
}

PseudolabelSummary pseudolabel(const config::Config& config, const PseudolabelRun& run) {
  const auto start = Clock::now();
  distributed::LocalWorkQueue local;
  distributed::WorkQueue& shards = run.shards ? *run.shards : local;
  const labels::LabelPolicy policy = policy_from_config(config.at("policy"), config.at("store"));
  const int64_t shard_size = config.get_positive_int("store.shard_size");
  for (const std::string& library : config.get_string_list("inference.libraries")) {
    try {
      models::load_operator_library(library);
    } catch (const Error& e) {
      config.at("inference").fail("libraries", e.what());
    }
  }
  std::vector<Teacher> teachers = load_teachers(config.at("teachers"), config.at("data.augment"), run.device);
  const data::DatasetOptions input_options = data::dataset_options_from_config(config.at("input"));
  ShardJob job{run.store, data::make_dataset(input_options),
               data::loader_options_from_config(config.at("data.loader"), /*training=*/false),
               data::transform_from_config(config.at("data.augment"), /*training=*/false), &teachers, &policy};
  job.loader_options.shuffle = false;
  job.loader_options.drop_last = false;
  const labels::Manifest planned = plan(teachers, policy, *job.input, input_options, shard_size);
  start_store(planned, run);

  const auto [lane_count, threads_per_lane] = lanes_from_config(config.at("inference"), run.device, teachers.size());
  TeacherLanes lanes(teachers.size(), [&](size_t t, const data::Batch& batch, const torch::Tensor& images) {
    return label_batch(teachers[t], batch, images, policy);
  }, run.device, lane_count, threads_per_lane);
  PseudolabelSummary summary;
  summary.shards = (job.input->size() + shard_size - 1) / shard_size;
  spdlog::info("pseudo-labelling {} images ({} shards of {}) with {} teacher(s): {}; {} lane(s) of {} thread(s)",
               job.input->size(), summary.shards, shard_size, teachers.size(), to_json(planned)["tasks"].dump(),
               lane_count, threads_per_lane);
  for (int64_t shard = shards.claim(); shard < summary.shards; shard = shards.claim()) {
    std::string why;
    if (labels::finished_shard(run.store, shard, &why)) {
      ++summary.kept;
      spdlog::info("{}: finished earlier, kept", labels::shard_name(shard));
      continue;
    }
    if (why != "not written") {
      ++summary.redone;
      spdlog::warn("{}: {}; writing it again", labels::shard_name(shard), why);
    }
    const auto shard_start = Clock::now();
    std::vector<double> teacher_seconds = lanes.teacher_seconds();
    const int64_t first = shard * shard_size, count = std::min(shard_size, job.input->size() - first);
    const labels::ShardRecord record = write_shard(job, shard, first, count, lanes);
    ++summary.written;
    summary.images += record.count;
    summary.failed += int64_t(record.failed.size());
    const std::vector<double> teacher_seconds_after = lanes.teacher_seconds();
    for (size_t t = 0; t < teachers.size(); ++t) teacher_seconds[t] = teacher_seconds_after[t] - teacher_seconds[t];
    report_shard(record, std::chrono::duration<double>(Clock::now() - shard_start).count(), teachers, teacher_seconds,
                 run, shard);
  }
  shards.finish_and_wait();
  if (run.rank == 0) labels::write_manifest(run.store, finished_manifest(planned, run.store, summary.shards));
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace must::pipelines
