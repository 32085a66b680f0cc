#include "must/labels/pseudolabel.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/sha256.h"
#include "must/core/strings.h"
#include "must/data/data_config.h"
#include "must/data/decode.h"
#include "must/data/image_io.h"
#include "must/data/loader.h"
#include "must/eval/eval_config.h"
#include "must/eval/prediction_mapping.h"
#include "must/labels/label_codec.h"
#include "must/labels/store.h"
#include "must/models/model_config.h"
#include "must/models/weight_import.h"

namespace must::labels {
namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

struct Teacher {
  Task task;
  fs::path config_path, weights;
  std::string weights_sha256, config_text;
  models::MultiTaskModel model{nullptr};
};

struct Policy {
  double temperature = 1.0;
  int64_t top_k = 0;
  double score_threshold = 0.5;
  double confidence_threshold = 0.5;
  bool flip = false;
  std::array<int64_t, 2> dense_size{0, 0};
  bool pack_images = false;
};

nlohmann::json to_json(const Policy& p) {
  return {{"classification", {{"temperature", p.temperature}, {"top_k", p.top_k}}},
          {"detection", {{"score_threshold", p.score_threshold}}},
          {"segmentation", {{"confidence_threshold", p.confidence_threshold}}},
          {"flip", p.flip},
          {"dense_size", {p.dense_size[0], p.dense_size[1]}},
          {"pack_images", p.pack_images}};
}

Policy policy_from_config(const config::Config& policy, const config::Config& store) {
  Policy p;
  p.temperature = policy.get_float("classification.temperature");
  if (p.temperature <= 0) policy.fail("classification.temperature", "must be positive");
  p.top_k = policy.get_int("classification.top_k");
  if (p.top_k < 0) policy.fail("classification.top_k", "must not be negative");
  p.score_threshold = policy.get_float("detection.score_threshold");
  p.confidence_threshold = policy.get_float("segmentation.confidence_threshold");
  if (p.confidence_threshold < 0 || p.confidence_threshold > 1) {
    policy.fail("segmentation.confidence_threshold", "must lie in [0, 1]");
  }
  p.flip = policy.get_bool("flip");
  const std::vector<int64_t> size = store.get_int_list("dense_size");
  if (size.size() != 2 || size[0] < 0 || size[1] < 0 || (size[0] == 0) != (size[1] == 0)) {
    store.fail("dense_size", "must be [height, width], or [0, 0] for each image's own size");
  }
  p.dense_size = {size[0], size[1]};
  p.pack_images = store.get_bool("pack_images");
  return p;
}

std::vector<Teacher> load_teachers(const config::Config& teachers, const torch::Device& device) {
  std::vector<Teacher> out;
  for (const std::string& name : teachers.keys()) {
    Teacher t;
    try {
      t.task = task_from_name(name);
    } catch (const ConfigError& e) {
      teachers.fail(name, e.what());
    }
    t.config_path = teachers.get_string(name + ".config");
    t.weights = teachers.get_string(name + ".weights");
    if (t.config_path.empty()) teachers.fail(name + ".config", "names no teacher config");
    if (!fs::exists(t.weights)) teachers.fail(name + ".weights", "no such file: " + t.weights.string());
    const config::Config teacher = config::Config::load(eval::eval_tool_defaults(), t.config_path);
    const models::MultiTaskModelOptions options = models::model_options_from_config(teacher.at("model"));
    bool has_head = false;
    for (const auto& head : options.heads) has_head = has_head || head.task == t.task;
    if (!has_head) teachers.fail(name + ".config", t.config_path.string() + " has no " + name + " head");
    t.model = models::MultiTaskModel(options);
    models::load_weights_file(*t.model, t.weights);
    t.model->eval();
    t.model->to(device);
    if (device.is_cpu()) t.model->fuse_for_inference();  // oneDNN convolutions with batch norm folded in
    t.weights_sha256 = sha256_file(t.weights);
    t.config_text = teacher.dump();
    out.push_back(std::move(t));
  }
  if (out.empty()) teachers.fail("", "names no teacher");
  return out;
}

// The images of input shard [first, first + count) as a dataset of their own.
class ShardInput final : public data::Dataset {
 public:
  ShardInput(std::shared_ptr<const data::Dataset> input, int64_t first, int64_t count)
      : input_(std::move(input)), first_(first), count_(count) {
    info_ = input_->info();
  }
  int64_t size() const override { return count_; }
  data::Sample get(int64_t index) const override {
    data::Sample sample = input_->get(first_ + index);
    sample.labels.clear();  // the input's own labels play no part
    sample.instances.reset();
    return sample;
  }

 private:
  std::shared_ptr<const data::Dataset> input_;
  int64_t first_, count_;
};

// The manifest's plan: what must agree between the runs that write one store.
nlohmann::json plan(const std::vector<Teacher>& teachers, const Policy& policy, const data::Dataset& input,
                    const data::DatasetOptions& input_options, int64_t shard_size) {
  nlohmann::json manifest = {{"format", kStoreFormat}, {"tasks", nlohmann::json::array()},
                             {"teachers", nlohmann::json::array()}, {"policy", to_json(policy)},
                             {"shard_size", shard_size}};
  for (const auto& t : teachers) {
    manifest["tasks"].push_back(std::string(task_name(t.task)));
    manifest["teachers"].push_back({{"task", std::string(task_name(t.task))}, {"config", t.config_path.string()},
                                    {"weights", t.weights.string()}, {"weights_sha256", t.weights_sha256},
                                    {"resolved_config", t.config_text}});
  }
  manifest["input"] = {{"format", input_options.format}, {"root", input_options.root}, {"split", input_options.split},
                       {"count", input.size()}, {"list_sha256", input_list_sha256(input)}};
  return manifest;
}

// Refuses to continue a store planned otherwise, naming the first difference.
void check_same_plan(const nlohmann::json& existing, const nlohmann::json& planned, const fs::path& manifest) {
  auto differs = [&](const std::string& what, const nlohmann::json& a, const nlohmann::json& b) {
    if (a != b) {
      MUST_THROW(ConfigError, manifest.string(), " was written with another ", what, " (", a.dump(), ", now ", b.dump(),
                 "): a store is never continued with other teachers, inputs or policy; choose another --output-dir");
    }
  };
  differs("format", existing.value("format", ""), planned["format"]);
  differs("task list", existing.value("tasks", nlohmann::json()), planned["tasks"]);
  for (size_t i = 0; i < planned["teachers"].size(); ++i) {
    differs("weights for " + planned["teachers"][i]["task"].get<std::string>(),
            existing["teachers"][i].value("weights_sha256", ""), planned["teachers"][i]["weights_sha256"]);
  }
  differs("input list", existing["input"].value("list_sha256", ""), planned["input"]["list_sha256"]);
  differs("policy", existing.value("policy", nlohmann::json()), planned["policy"]);
  differs("shard size", existing.value("shard_size", nlohmann::json()), planned["shard_size"]);
}

// [C, h, w] over the image's pixels in the batch -> [C, H, W] over the stored pixels.
torch::Tensor to_stored_pixels(const torch::Tensor& map, const data::Geometry& geometry, const Policy& policy) {
  if (policy.dense_size[0] == 0) return eval::map_to_original(map, geometry);
  // After a plain resize the map covers the whole image already: one resize to the stored size, not two.
  const torch::Tensor whole = geometry.is_resize() ? map : eval::map_to_original(map, geometry);
  return F::interpolate(whole.unsqueeze(0), F::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{policy.dense_size[0], policy.dense_size[1]})
                                                .mode(torch::kBilinear)
                                                .align_corners(false))[0];
}

// An image's detected boxes that the policy keeps, as Instances (in the original image's pixels).
structures::Instances kept_boxes(const std::vector<eval::DetectedBox>& boxes, const Policy& policy) {
  structures::Instances kept;
  std::vector<float> corners;
  std::vector<int64_t> classes;
  std::vector<float> scores;
  for (const auto& b : boxes) {
    if (b.score < policy.score_threshold) continue;
    corners.insert(corners.end(), {float(b.box.x), float(b.box.y), float(b.box.x + b.box.w), float(b.box.y + b.box.h)});
    classes.push_back(b.category);
    scores.push_back(float(b.score));
  }
  const int64_t n = int64_t(classes.size());
  kept.boxes = torch::tensor(corners, torch::kFloat).view({n, 4});
  kept.labels = torch::tensor(classes, torch::kLong);
  kept.scores = torch::tensor(scores, torch::kFloat);
  return kept;
}

// Image i's label of a task with a tensor output (class vector or map).
void apply_dense_policy(Task task, const models::ModelOutput& output, const data::Batch& batch, size_t i,
                        const Policy& policy, data::Sample& sample) {
  const TaskSpec& spec = task_spec(task);
  const torch::Tensor prediction = output.predictions.at(task)[int64_t(i)].detach().to(torch::kCPU, torch::kFloat);
  if (spec.target == TargetKind::kClassVector) {
    torch::Tensor p = (prediction / policy.temperature).softmax(0);
    if (policy.top_k > 0 && policy.top_k < p.size(0)) {
      const torch::Tensor top = std::get<1>(p.topk(policy.top_k));
      torch::Tensor kept = torch::zeros_like(p);
      kept.index_put_({top}, p.index({top}));
      p = kept / kept.sum();
    }
    sample.labels[task] = p;
    return;
  }
  const auto [h, w] = batch.images.image_sizes[i];
  torch::Tensor map = to_stored_pixels(prediction.narrow(1, 0, h).narrow(2, 0, w), batch.geometry[i], policy);
  switch (spec.target) {
    case TargetKind::kClassMap: {
      const auto [confidence, classes] = map.softmax(0).max(0);
      sample.labels[task] = classes.masked_fill(confidence < policy.confidence_threshold, int64_t(spec.ignore_value));
      return;
    }
    case TargetKind::kUnitVectorMap:
      sample.labels[task] = F::normalize(map, F::NormalizeFuncOptions().dim(0).eps(1e-12));
      return;
    default:
      sample.labels[task] = map;
  }
}

// Every image's pseudo label of `task` from the teacher's output on the batch, into `labels` (Sample layouts).
void apply_policy(Task task, const models::ModelOutput& output, const data::Batch& batch, const Policy& policy,
                  std::vector<data::Sample>& labels) {
  if (task_spec(task).target == TargetKind::kBoxes) {
    const std::vector<eval::ImagePrediction> predictions = eval::image_predictions(task, output, batch);
    for (size_t i = 0; i < labels.size(); ++i) labels[i].instances = kept_boxes(predictions[i].detections, policy);
    return;
  }
  for (size_t i = 0; i < labels.size(); ++i) apply_dense_policy(task, output, batch, i, policy, labels[i]);
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

// One teacher's labels of one batch: its output through the policy, encoded per image (store member bytes).
std::vector<std::string> label_batch(Teacher& teacher, const data::Batch& batch, const torch::Tensor& images,
                                     const Policy& policy) {
  models::ModelOutput output = teacher.model->forward(images, nullptr, batch.images.image_sizes);
  if (policy.flip) {
    const models::ModelOutput flipped =
        teacher.model->forward(eval::flip_images(images, batch.images.image_sizes), nullptr, batch.images.image_sizes);
    for (auto& [task, prediction] : output.predictions) {
      prediction = eval::merge_flipped(
          task, prediction, eval::unflip_prediction(task, flipped.predictions.at(task), batch.images.image_sizes));
    }
  }
  std::vector<data::Sample> labels(batch.indices.size());
  apply_policy(teacher.task, output, batch, policy, labels);
  std::vector<std::string> encoded;
  for (const data::Sample& label : labels) encoded.push_back(encode_label(teacher.task, label));
  return encoded;
}

// Runs the teachers over batches on `lanes` threads at once, each lane's tensor work on `threads_per_lane` intra-op
// threads. On a CPU, teachers side by side on one core each label more images per second than one teacher at a
// time on every core: the detector's serial parts (proposal selection, NMS, per-image post-processing) and the
// OpenMP barriers of small layers leave cores idle that another teacher's convolutions fill. A teacher runs one
// batch at a time (its modules keep caches), batches in the order they came; a batch is done when every teacher
// has labelled it. Labels do not depend on which lane ran them: each (teacher, batch) runs with the same number
// of intra-op threads.
class TeacherLanes {
 public:
  struct Job {
    data::Batch batch;
    torch::Tensor images;                         // on the device
    std::vector<std::vector<std::string>> labels;  // [teacher][image]: encoded labels
    std::vector<bool> started;                    // per teacher
    size_t finished = 0;                          // teachers done with this batch
  };

  TeacherLanes(std::vector<Teacher>& teachers, const Policy& policy, const torch::Device& device, int lanes,
               int threads_per_lane)
      : teachers_(teachers), policy_(policy), device_(device), busy_(teachers.size(), false),
        seconds_(teachers.size(), 0.0) {
    for (int i = 0; i < lanes; ++i) {
      threads_.emplace_back([this, threads_per_lane] { run_lane(threads_per_lane); });
    }
  }
  ~TeacherLanes() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    for (auto& thread : threads_) thread.join();
  }
  TeacherLanes(const TeacherLanes&) = delete;
  TeacherLanes& operator=(const TeacherLanes&) = delete;

  // Batches submitted and not yet taken back; submit more while this is below capacity().
  size_t in_flight() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.size();
  }
  size_t capacity() const { return threads_.size() + 1; }  // one batch ahead for a lane that finishes early

  // Seconds each teacher has spent labelling so far (its lane's time: with lanes side by side they add up to more
  // than the wall time).
  std::vector<double> teacher_seconds() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seconds_;
  }

  void submit(data::Batch batch) {
    auto job = std::make_unique<Job>();
    job->images = batch.images.tensors.to(device_);
    job->batch = std::move(batch);
    job->labels.resize(teachers_.size());
    job->started.assign(teachers_.size(), false);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    changed_.notify_all();
  }

  // The oldest batch once every teacher has labelled it. Rethrows a lane's error.
  std::unique_ptr<Job> take_oldest() {
    std::unique_lock<std::mutex> lock(mutex_);
    MUST_CHECK(!jobs_.empty(), "no batch in flight");
    changed_.wait(lock, [&] { return error_ || jobs_.front()->finished == teachers_.size(); });
    if (error_) std::rethrow_exception(error_);
    std::unique_ptr<Job> job = std::move(jobs_.front());
    jobs_.pop_front();
    return job;
  }

 private:
  void run_lane(int threads) {
    data::use_intra_op_threads(threads);
    torch::NoGradGuard no_grad;  // thread-local: each lane sets its own
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      Job* job = nullptr;
      size_t t = 0;
      changed_.wait(lock, [&] { return stopping_ || error_ || (job = runnable(t)) != nullptr; });
      if (stopping_ || error_) return;
      job->started[t] = true;
      busy_[t] = true;
      lock.unlock();
      std::vector<std::string> labels;
      std::exception_ptr error;
      const auto start = Clock::now();
      try {
        labels = label_batch(teachers_[t], job->batch, job->images, policy_);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      busy_[t] = false;
      seconds_[t] += std::chrono::duration<double>(Clock::now() - start).count();
      if (error && !error_) error_ = error;
      job->labels[t] = std::move(labels);
      ++job->finished;
      changed_.notify_all();
    }
  }

  // The oldest batch with a teacher that has not started on it and is free; that teacher in `t`.
  Job* runnable(size_t& t) {
    for (auto& job : jobs_) {
      for (t = 0; t < teachers_.size(); ++t) {
        if (!job->started[t] && !busy_[t]) return job.get();
      }
    }
    return nullptr;
  }

  std::vector<Teacher>& teachers_;
  const Policy& policy_;
  const torch::Device device_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<Job>> jobs_;
  std::vector<bool> busy_;         // per teacher
  std::vector<double> seconds_;    // per teacher: time spent labelling so far
  std::exception_ptr error_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Writes input shard `shard`. Returns the images labelled and the failed ones.
ShardRecord write_shard(const fs::path& store, int64_t shard, int64_t first, int64_t count,
                        const std::shared_ptr<const data::Dataset>& input, const data::LoaderOptions& loader_options,
                        const std::shared_ptr<const data::Transform>& transform, const std::vector<Teacher>& teachers,
                        TeacherLanes& lanes, const Policy& policy) {
  ShardWriter writer(store, shard, first);
  data::Loader loader(std::make_shared<ShardInput>(input, first, count), transform, loader_options);
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
    const std::unique_ptr<TeacherLanes::Job> job = lanes.take_oldest();
    const data::Batch& batch = job->batch;
    for (size_t i = 0; i < batch.indices.size(); ++i) {
      const int64_t index = first + batch.indices[i];
      const std::string key = key_of(index);
      const data::Geometry& g = batch.geometry[i];
      std::array<int64_t, 2> stored_size = policy.dense_size[0] > 0 ? policy.dense_size : g.original_size;
      std::vector<std::pair<std::string, std::string>> members = {
          {key + ".json", nlohmann::json({{"index", index}, {"source", batch.sources[i]},
                                          {"original_size", {g.original_size[0], g.original_size[1]}},
                                          {"stored_size", {stored_size[0], stored_size[1]}}})
                              .dump()}};
      for (size_t t = 0; t < teachers.size(); ++t) {
        members.emplace_back(member_name(key, teachers[t].task), std::move(job->labels[t][i]));
      }
      if (policy.pack_images) {
        auto [suffix, bytes] = packed_image(*input, index);
        members.emplace_back(key + "." + suffix, std::move(bytes));
      }
      writer.add(key, members);
      stored.insert(batch.indices[i]);
    }
  }
  const data::LoaderStats& stats = loader.stats();
  for (size_t k = 0; k < stats.skipped_sources.size(); ++k) {
    // The failed image's index: the first of the shard's images not stored whose source matches.
    for (int64_t i = 0; i < count; ++i) {
      if (stored.count(i) || input->source(first + i) != stats.skipped_sources[k]) continue;
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
  int lanes = int(inference.get_int("lanes"));
  if (lanes < 0) inference.fail("lanes", "must be 0 (automatic) or more");
  if (lanes == 0) lanes = device.is_cpu() ? std::min(threads, int(teachers)) : 1;
  return {lanes, std::max(1, threads / lanes)};
}

// Removes temporaries a killed run left behind (`<name>.tmp.<pid>`): they never carry a final name, and a rerun
// rewrites their shard anyway.
void remove_stale_temporaries(const fs::path& shards) {
  if (!fs::exists(shards)) return;
  for (const auto& entry : fs::directory_iterator(shards)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) fs::remove(entry.path());
  }
}

}  // namespace

std::string_view pseudolabel_defaults() {
  static const std::string defaults = R"yaml(
# Which teacher labels which task: one entry per task (classification, detection, segmentation, depth, normals).
teachers:
  _any_:
    config: ""                # the teacher's training config (its model: section builds the network)
    weights: ""               # its weights (model_final.safetensors, or any file --init-from takes)
input:                        # the images to label: any dataset reader (its labels are not used))yaml" +
                                      std::string(data::dataset_defaults()) + R"yaml(data:                         # how the images go in: augment (resize, normalisation) and loader)yaml" +
                                      std::string(data::augment_and_loader_defaults()) + R"yaml(policy:
  classification: {temperature: 1.0, top_k: 0}   # soft labels softmax(logits / T); top_k > 0 keeps the k best
  detection: {score_threshold: 0.5}              # boxes kept after the detector's NMS
  segmentation: {confidence_threshold: 0.5}      # pixels less sure than this are stored as ignore (255)
  flip: false                 # average with the mirrored image's prediction (classification and dense tasks)
inference:
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
  dist::LocalWorkQueue local;
  dist::WorkQueue& shards = run.shards ? *run.shards : local;
  const Policy policy = policy_from_config(config.at("policy"), config.at("store"));
  const int64_t shard_size = config.get_int("store.shard_size");
  if (shard_size <= 0) config.at("store").fail("shard_size", "must be positive");
  std::vector<Teacher> teachers = load_teachers(config.at("teachers"), run.device);
  const data::DatasetOptions input_options = data::dataset_options_from_config(config.at("input"));
  const std::shared_ptr<const data::Dataset> input = data::make_dataset(input_options);
  const auto transform = data::transform_from_config(config.at("data.augment"), /*training=*/false);
  data::LoaderOptions loader_options = data::loader_options_from_config(config.at("data.loader"), /*training=*/false);
  loader_options.shuffle = false;
  loader_options.drop_last = false;

  const nlohmann::json planned = plan(teachers, policy, *input, input_options, shard_size);
  const fs::path manifest_path = run.store / "manifest.json";
  if (fs::exists(manifest_path)) {
    check_same_plan(nlohmann::json::parse(read_file(manifest_path)), planned, manifest_path);
  } else if (run.rank == 0) {
    atomic_write_file(manifest_path, planned.dump(1) + "\n");
  }
  if (run.rank == 0) remove_stale_temporaries(run.store / "shards");
  if (run.plan_checked) run.plan_checked();

  const auto [lane_count, threads_per_lane] = lanes_from_config(config.at("inference"), run.device, teachers.size());
  TeacherLanes lanes(teachers, policy, run.device, lane_count, threads_per_lane);
  PseudolabelSummary summary;
  summary.shards = (input->size() + shard_size - 1) / shard_size;
  spdlog::info("pseudo-labelling {} images ({} shards of {}) with {} teacher(s): {}; {} lane(s) of {} thread(s)",
               input->size(), summary.shards, shard_size, teachers.size(), planned["tasks"].dump(), lane_count,
               threads_per_lane);
  for (int64_t shard = shards.claim(); shard < summary.shards; shard = shards.claim()) {
    std::string why;
    if (finished_shard(run.store, shard, &why)) {
      ++summary.kept;
      spdlog::info("{}: finished earlier, kept", shard_name(shard));
      continue;
    }
    if (why != "not written") {
      ++summary.redone;
      spdlog::warn("{}: {}; writing it again", shard_name(shard), why);
    }
    const auto shard_start = Clock::now();
    const std::vector<double> teacher_seconds_before = lanes.teacher_seconds();
    const int64_t first = shard * shard_size, count = std::min(shard_size, input->size() - first);
    const ShardRecord record =
        write_shard(run.store, shard, first, count, input, loader_options, transform, teachers, lanes, policy);
    ++summary.written;
    summary.images += record.count;
    summary.failed += int64_t(record.failed.size());
    const double seconds = std::chrono::duration<double>(Clock::now() - shard_start).count();
    std::string per_teacher;
    const std::vector<double> teacher_seconds = lanes.teacher_seconds();
    for (size_t t = 0; t < teachers.size(); ++t) {
      per_teacher += fmt::format("{}{} {:.1f} s", t ? ", " : "", task_name(teachers[t].task),
                                 teacher_seconds[t] - teacher_seconds_before[t]);
    }
    spdlog::info("{}: {} images{} in {:.1f} s ({:.2f} images/s; teachers' time: {})", record.name, record.count,
                 record.failed.empty() ? "" : ", " + std::to_string(record.failed.size()) + " failed", seconds,
                 double(record.count) / std::max(seconds, 1e-9), per_teacher);
  }
  shards.finish_and_wait();

  if (run.rank == 0) {  // every shard is written: the manifest's table
    nlohmann::json manifest = planned;
    manifest["shards"] = nlohmann::json::array();
    manifest["failed"] = nlohmann::json::array();
    for (int64_t shard = 0; shard < summary.shards; ++shard) {
      std::string why;
      const std::optional<ShardRecord> record = finished_shard(run.store, shard, &why);
      MUST_CHECK(record.has_value(), shard_name(shard), " is not finished after every rank stopped (", why,
                 "); rerun to complete the store");
      nlohmann::json entry = to_json(*record);
      for (const auto& failed : entry["failed"]) manifest["failed"].push_back(failed);
      entry.erase("failed");
      manifest["shards"].push_back(entry);
    }
    atomic_write_file(manifest_path, manifest.dump(1) + "\n");
  }
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace must::labels
