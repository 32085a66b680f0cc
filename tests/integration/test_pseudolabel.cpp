// must_pseudolabel as a cluster job would run it, on the quick world's teachers (random weights: the labels'
// quality is not the point here, their bookkeeping is): 2 processes label like 1, a rank killed with
// SIGKILL at a random moment loses and duplicates nothing on rerun, a damaged shard is named and redone, an
// image that does not decode is listed, and a store is never continued with other teachers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <random>
#include <regex>
#include <set>

#include "must/config/config.h"
#include "must/core/fs.h"
#include "must/core/sha256.h"
#include "must/eval/eval_config.h"
#include "must/io/tar.h"
#include "must/labels/store.h"
#include "must/models/model_config.h"
#include "must/models/state_dict_file.h"
#include "test_support.h"
#include "train_support.h"

namespace must {
namespace {

using test::run_command;
using test::tool_path;
namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::vector<std::string> kTasks = {"classification", "detection", "segmentation", "depth", "normals"};

class Pseudolabel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir();
    const std::string world = (root() / "world").string();
    // The quick world with a larger unlabeled split, so that a run lasts long enough to be killed in the middle.
    const auto made = run_command(tool_path("must_make_world") + " --threads 2 --config " +
                                  test::source_path("configs/quick/world.yaml").string() +
                                  " --set world.splits.unlabeled.count=160 --output-dir " + world);
    ASSERT_EQ(made.exit_code, 0) << made.output;
    // The quick teachers with freshly initialised weights (the labels' values do not matter here, only that
    // every run computes the same ones).
    const std::string teachers = test::write_random_quick_teachers(root() / "teachers");
    test::write_text(root() / "pseudolabel.yaml",
                     teachers + "input: {format: world, root: " + world + ", split: unlabeled}\n" +
                         "data:\n  loader: {batch_size: 4, workers: 1}\nstore: {shard_size: 12}\n");
    // The reference: one process.
    const auto one = label("", "reference");
    ASSERT_EQ(one.exit_code, 0) << one.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static const fs::path& root() { return dir_->path(); }

  // must_pseudolabel on `processes` ranks ("" = one, without the launcher) into root()/<store>. One thread each:
  // the labels then come out bit for bit the same however the images are spread over processes.
  static test::CommandResult label(const std::string& processes, const std::string& store, const std::string& extra = "") {
    const std::string tool = tool_path("must_pseudolabel") + " --threads 1 --config " +
                             (root() / "pseudolabel.yaml").string() + " --output-dir " + (root() / store).string() +
                             " " + extra;
    if (processes.empty()) return run_command(tool);
    return run_command(test::source_path("scripts/launch_local.sh").string() + " " + processes + " -- " + tool);
  }
  static test::CommandResult verify(const std::string& store) {
    return run_command(tool_path("must_pseudolabel") + " --verify " + (root() / store).string());
  }
  static nlohmann::json manifest(const std::string& store) {
    return nlohmann::json::parse(read_file(root() / store / "manifest.json"));
  }
  // Each shard's sha256, from the manifest.
  static std::vector<std::string> shard_hashes(const std::string& store) {
    const nlohmann::json m = manifest(store);
    std::vector<std::string> out;
    for (const auto& shard : m.at("shards")) out.push_back(shard.at("sha256").get<std::string>());
    return out;
  }
  // Every image key in the store's shards, counting repeats.
  static std::multiset<std::string> stored_keys(const std::string& store) {
    std::multiset<std::string> keys;
    for (const auto& entry : fs::directory_iterator(root() / store / "shards")) {
      if (entry.path().extension() != ".tar") continue;
      for (const auto& member : io::list_tar(entry.path())) {
        if (member.name.size() > 5 && member.name.substr(member.name.size() - 5) == ".json" &&
            member.name.find('.') == member.name.size() - 5) {
          keys.insert(member.name.substr(0, member.name.size() - 5));
        }
      }
    }
    return keys;
  }
  static void expect_every_image_once(const std::string& store) {
    const std::multiset<std::string> keys = stored_keys(store);
    EXPECT_EQ(keys.size(), 160u) << store;
    for (int64_t i = 0; i < 160; ++i) EXPECT_EQ(keys.count(labels::key_of(i)), 1u) << store << " image " << i;
  }
  // A store whose shard 2 was damaged: --verify names it (`problem`) and no other, a rerun redoes it alone, and the
  // store is whole again, with the reference's shards.
  static void expect_shard_2_named_and_redone(const std::string& store, const std::string& problem) {
    const auto checked = verify(store);
    EXPECT_EQ(checked.exit_code, 1) << checked.output;
    EXPECT_TRUE(contains(checked.output, problem)) << checked.output;
    EXPECT_FALSE(contains(checked.output, "labels-000001")) << checked.output;
    const auto rerun = label("", store);
    ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
    EXPECT_TRUE(contains(rerun.output, problem)) << rerun.output;
    EXPECT_TRUE(contains(rerun.output, "wrote 1 (1 redone), kept 13")) << rerun.output;
    EXPECT_EQ(verify(store).exit_code, 0);
    EXPECT_EQ(shard_hashes(store), shard_hashes("reference"));
  }
  static test::ScratchDir* dir_;
};
test::ScratchDir* Pseudolabel::dir_ = nullptr;

TEST_F(Pseudolabel, TwoProcessesLabelEveryImageOnceAndAsOneProcessDoes) {
  const auto two = label("2", "two");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_TRUE(contains(two.output, "[rank 1]")) << two.output;
  EXPECT_EQ(shard_hashes("two"), shard_hashes("reference"));
  EXPECT_EQ(shard_hashes("two").size(), 14u);  // 160 images in shards of 12
  expect_every_image_once("two");
  EXPECT_EQ(verify("two").exit_code, 0);
  const nlohmann::json m = manifest("two");
  EXPECT_EQ(m["tasks"].size(), 5u);
  EXPECT_EQ(m["teachers"][0]["weights_sha256"].get<std::string>().size(), 64u);
  for (const auto& teacher : m["teachers"]) {  // what MuST's loss weighting needs of each teacher
    EXPECT_GT(teacher["batch_size"].get<int64_t>(), 0) << teacher.dump();
    EXPECT_GT(teacher["lr"].get<double>(), 0) << teacher.dump();
  }
  EXPECT_EQ(m["format"], "must-labels-2");
  EXPECT_EQ(m["shards"][0]["idx_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(m["input"]["count"].get<int64_t>(), 160);
  // Plain Python reads it.
  const auto python = run_command(must::test::python() + " " + test::source_path("tests/labels/read_store.py").string() + " " +
                                  (root() / "two").string());
  ASSERT_EQ(python.exit_code, 0) << python.output;
  EXPECT_EQ(nlohmann::json::parse(python.output).size(), 160u);
}

TEST_F(Pseudolabel, RankKilledAtARandomMomentThenRerunCompletesTheSameStore) {
  std::mt19937 random(20261201);
  for (int trial = 0; trial < 3; ++trial) {
    const std::string store = "killed" + std::to_string(trial);
    // The moment comes from the run's progress, never from a clock (a fast machine finishes the whole run in about
    // a second): once `finished` of the 14 shards are done, at once or while a later shard's tar is being written.
    // At most 6 done leaves 8 to go, far more than the kill takes to land.
    const int finished = std::uniform_int_distribution<int>(1, 6)(random);
    const bool mid_shard = std::uniform_int_distribution<int>(0, 1)(random) == 1;
    const std::string victim = std::uniform_int_distribution<int>(0, 1)(random) == 0 ? "-o" : "-n";  // rank 0 or 1
    const std::string moment = std::to_string(finished) + " shard(s) done" + (mid_shard ? ", mid-shard" : "");
    const std::string tool = tool_path("must_pseudolabel") + " --threads 1 --config " +
                             (root() / "pseudolabel.yaml").string() + " --output-dir " + (root() / store).string();
    const std::string shards = (root() / store / "shards").string();
    // The launcher in the background; at the moment, SIGKILL to one rank (the pattern is anchored at the tool's
    // path: the launcher's own command line holds the same arguments). Each wait ends too if the launcher has.
    const std::string alive = "kill -0 $launcher 2>/dev/null";
    std::string at_the_moment = "until [ $(ls " + shards + "/*.done 2>/dev/null | wc -l) -ge " +
                                std::to_string(finished) + " ] || ! " + alive + "; do sleep 0.002; done; ";
    if (mid_shard) {
      at_the_moment += "until ls " + shards + "/*.tar.tmp.* > /dev/null 2>&1 || ! " + alive + "; do sleep 0.002; done; ";
    }
    const auto killed = run_command(test::source_path("scripts/launch_local.sh").string() + " 2 -- " + tool +
                                    " > " + (root() / (store + ".log")).string() + " 2>&1 & launcher=$!; " +
                                    at_the_moment + "pkill -KILL " + victim + " -f -- '^" + tool +
                                    "'; wait $launcher; echo launcher=$?");
    SCOPED_TRACE("trial " + std::to_string(trial) + ": SIGKILL at " + moment + "\n" + killed.output +
                 read_file(root() / (store + ".log")));
    // The kill landed mid-run: the launcher saw the rank die and stopped the other.
    EXPECT_TRUE(contains(killed.output, "launcher=137")) << "the kill came after the run ended";
    // Whatever carries a final name is whole at this moment: every tar lists to its end blocks.
    if (fs::exists(root() / store / "shards")) {
      for (const auto& entry : fs::directory_iterator(root() / store / "shards")) {
        if (entry.path().extension() == ".tar") {
          EXPECT_NO_THROW(io::list_tar(entry.path())) << entry.path();
        }
      }
    }
    const auto rerun = label("2", store);
    ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
    EXPECT_EQ(verify(store).exit_code, 0);
    expect_every_image_once(store);
    EXPECT_EQ(shard_hashes(store), shard_hashes("reference"));
    for (const auto& entry : fs::directory_iterator(root() / store / "shards")) {
      EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
    }
  }
}

// torchrun's default (static) rendezvous: its agent hosts the store at MASTER_PORT, and the workers meet there.
TEST_F(Pseudolabel, TorchrunsTwoWorkersLabelOnItsAgentsStoreAsOneProcessDoes) {
  const std::string tool = tool_path("must_pseudolabel") + " --threads 1 --config " +
                           (root() / "pseudolabel.yaml").string() + " --output-dir " + (root() / "torchrun").string();
  const auto run = run_command(test::torchrun(2, tool, root() / "torchrun_logs"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "torchrun's store")) << run.output;
  EXPECT_EQ(verify("torchrun").exit_code, 0);
  expect_every_image_once("torchrun");
  EXPECT_EQ(shard_hashes("torchrun"), shard_hashes("reference"));
}

// --max_restarts=1: a worker SIGKILLed mid-run makes the agent stop the other and start the group again
// (TORCHELASTIC_RESTART_COUNT=1), whose workers keep the finished shards and label the rest.
TEST_F(Pseudolabel, ATorchrunWorkerKilledMidRunIsRestartedByTheAgentAndTheStoreCompletes) {
  const std::string tool = tool_path("must_pseudolabel") + " --threads 1 --config " +
                           (root() / "pseudolabel.yaml").string() + " --output-dir " + (root() / "restarted").string();
  const std::string shards = (root() / "restarted" / "shards").string();
  // At 3 of 14 shards done, SIGKILL to the newest worker. The pattern is the worker's whole command line, anchored:
  // torchrun's own holds the same arguments, and other tests run the same tool meanwhile.
  const std::string alive = "kill -0 $launcher 2>/dev/null";
  const auto run = run_command(
      test::torchrun(2, tool, root() / "restarted_logs", "--max_restarts=1 --monitor_interval=1") + " > " +
      (root() / "restarted.log").string() + " 2>&1 & launcher=$!; until [ $(ls " + shards +
      "/*.done 2>/dev/null | wc -l) -ge 3 ] || ! " + alive + "; do sleep 0.002; done; pkill -KILL -n -f -- '^" + tool +
      "'; echo killed=$?; wait $launcher; echo launcher=$?");
  const std::string log = read_file(root() / "restarted.log");
  SCOPED_TRACE(run.output + log);
  EXPECT_TRUE(contains(run.output, "killed=0"));
  EXPECT_TRUE(contains(run.output, "launcher=0"));
  EXPECT_TRUE(contains(log, "restart 1 of this run (TORCHELASTIC_RESTART_COUNT=1)"));
  EXPECT_EQ(verify("restarted").exit_code, 0);
  expect_every_image_once("restarted");
  EXPECT_EQ(shard_hashes("restarted"), shard_hashes("reference"));
  // The restarted group kept what the first attempt finished: at least the 3 shards done at the kill, over its ranks.
  const std::regex summary("this run wrote [0-9]+ \\([0-9]+ redone\\), kept ([0-9]+);");
  int64_t kept = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), summary); it != std::sregex_iterator(); ++it) {
    kept += std::stoll((*it)[1]);
  }
  EXPECT_GE(kept, 3);
}

// The quick world's unlabeled images as tar shards of 70, 70 and 20 (not aligned with the store's shards of 12),
// WebDataset-style: <key>.png, with a .cls and a .json member beside each that labelling ignores; the second shard
// has its member index beside it (.idx), the third long names (ustar's prefix field). Labelled from the shards, the
// store equals the one labelled from the same images as a folder, shard for shard.
TEST_F(Pseudolabel, AStoreLabelledFromTarShardsEqualsTheStoreOfTheSameImagesAsAFolder) {
  const fs::path images = root() / "world" / "unlabeled" / "images";
  const fs::path shards = root() / "input_shards";
  fs::create_directories(shards);
  const int64_t first_of_shard[] = {0, 70, 140, 160};
  for (int shard = 0; shard < 3; ++shard) {
    const fs::path tar_path = shards / ("images-" + std::to_string(shard) + ".tar");
    AtomicFileWriter out(tar_path);
    io::TarWriter tar(out);
    for (int64_t i = first_of_shard[shard]; i < first_of_shard[shard + 1]; ++i) {
      char stem[16];
      std::snprintf(stem, sizeof(stem), "%06lld", static_cast<long long>(i));
      const std::string key = shard == 2 ? std::string(120, 'd') + "/" + stem : stem;
      tar.add(key + ".cls", std::to_string(i % 5));
      tar.add(key + ".png", read_file(images / (std::string(stem) + ".png")));
      tar.add(key + ".json", "{}");
    }
    tar.finish();
    out.commit();
    if (shard == 1) write_file(shards / "images-1.idx", io::encode_tar_index(tar.members()));
  }
  const auto input = [&](const std::string& format, const fs::path& dir) {
    return "--set input.format=" + format + " --set input.root=" + dir.string() + " --set 'input.split=\"\"'";
  };
  const auto folder = label("", "from_folder", input("images", images));
  ASSERT_EQ(folder.exit_code, 0) << folder.output;
  const auto sharded = label("", "from_shards", input("tar_shards", shards));
  ASSERT_EQ(sharded.exit_code, 0) << sharded.output;
  EXPECT_EQ(verify("from_shards").exit_code, 0);
  expect_every_image_once("from_shards");
  // Every label member byte for byte; each image's record too, but for its source (the file, or the shard and
  // member, it was read from).
  const auto labels_of = [](const std::string& store) {
    std::map<std::string, std::string> members;
    for (const auto& entry : fs::directory_iterator(root() / store / "shards")) {
      if (entry.path().extension() != ".tar") continue;
      for (const auto& member : io::list_tar(entry.path())) {
        std::string bytes = read_file_range(entry.path(), member.offset, member.size);
        if (member.name.find('.') == member.name.size() - 5 && member.name.substr(member.name.size() - 5) == ".json") {
          nlohmann::json record = nlohmann::json::parse(bytes);
          record.erase("source");
          bytes = record.dump();
        }
        members[member.name] = bytes;
      }
    }
    return members;
  };
  const auto from_shards = labels_of("from_shards");
  EXPECT_EQ(from_shards.size(), 160u * 6);  // the record and five labels of each image
  EXPECT_TRUE(from_shards == labels_of("from_folder"));
  EXPECT_TRUE(from_shards == labels_of("reference"));  // the world's own reader: the same images
  EXPECT_NE(read_file(labels::shard_tar(root() / "from_shards", 0)).find("input_shards/images-0.tar:000000.png"),
            std::string::npos);
  const nlohmann::json m = manifest("from_shards");
  EXPECT_EQ(m["input"]["format"], "tar_shards");
  EXPECT_EQ(m["input"]["count"].get<int64_t>(), 160);
  // Planned by its 3 shards: the list hash is of one line per shard ("<name> <bytes> <samples>"), not of 160 names.
  std::string shard_list;
  for (int shard = 0; shard < 3; ++shard) {
    const std::string name = "images-" + std::to_string(shard) + ".tar";
    shard_list += name + " " + std::to_string(fs::file_size(shards / name)) + " " +
                  std::to_string(first_of_shard[shard + 1] - first_of_shard[shard]) + "\n";
  }
  EXPECT_EQ(m["input"]["list_sha256"], sha256_hex(shard_list));
}

TEST_F(Pseudolabel, AFlippedByteFailsVerifyNamingTheShardAndARerunRedoesIt) {
  ASSERT_EQ(label("", "flipped").exit_code, 0);
  const fs::path tar = labels::shard_tar(root() / "flipped", 2);
  std::string bytes = read_file(tar);
  bytes[1000] ^= 0x10;
  write_file(tar, bytes);
  expect_shard_2_named_and_redone("flipped", "labels-000002: sha256 mismatch");
}

TEST_F(Pseudolabel, AnIndexWithTwoEntriesSwappedFailsVerifyNamingTheShardAndARerunRedoesIt) {
  ASSERT_EQ(label("", "swapped").exit_code, 0);
  // Two images' depth maps (the same size) given each other's offsets: the tar itself is untouched.
  const fs::path idx = root() / "swapped" / "shards" / (labels::shard_name(2) + ".idx");
  std::vector<io::TarMember> members = io::decode_tar_index(read_file(idx), idx.string());
  std::vector<io::TarMember*> depth;
  for (auto& member : members) {
    if (contains(member.name, ".depth.npy")) depth.push_back(&member);
  }
  ASSERT_GE(depth.size(), 2u);
  ASSERT_EQ(depth[0]->size, depth[1]->size);
  std::swap(depth[0]->offset, depth[1]->offset);
  write_file(idx, io::encode_tar_index(members));
  expect_shard_2_named_and_redone("swapped", "labels-000002: .idx sha256 mismatch");
}

TEST_F(Pseudolabel, AnImageThatDoesNotDecodeIsListedAndTheRunGoesOn) {
  const fs::path images = root() / "images";
  fs::create_directories(images);
  for (int i = 0; i < 5; ++i) {
    fs::copy_file(root() / "world/unlabeled/images" / (std::string("00000") + std::to_string(i) + ".png"),
                  images / ("image" + std::to_string(i) + ".png"));
  }
  test::write_text(images / "image2.png", "not a png at all");
  test::write_text(root() / "broken.yaml", "_base_: " + (root() / "pseudolabel.yaml").string() +
                                               "\ninput: {format: images, root: " + images.string() + ", split: \"\"}\n");
  const auto run = run_command(tool_path("must_pseudolabel") + " --threads 1 --config " +
                               (root() / "broken.yaml").string() + " --output-dir " + (root() / "broken").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const nlohmann::json m = manifest("broken");
  ASSERT_EQ(m["failed"].size(), 1u) << m.dump();
  EXPECT_EQ(m["failed"][0]["index"].get<int64_t>(), 2);
  EXPECT_TRUE(contains(m["failed"][0]["source"].get<std::string>(), "image2.png"));
  EXPECT_FALSE(m["failed"][0]["reason"].get<std::string>().empty());
  EXPECT_EQ(m["shards"][0]["count"].get<int64_t>(), 4);
  const std::multiset<std::string> keys = stored_keys("broken");
  EXPECT_EQ(keys, (std::multiset<std::string>{labels::key_of(0), labels::key_of(1), labels::key_of(3), labels::key_of(4)}));
}

TEST_F(Pseudolabel, APackedStoreCarriesEachInputImageAsItsFile) {
  const fs::path images = root() / "six_images";
  fs::create_directories(images);
  for (int i = 0; i < 6; ++i) {
    fs::copy_file(root() / "world/unlabeled/images" / ("00000" + std::to_string(i) + ".png"),
                  images / ("image" + std::to_string(i) + ".png"));
  }
  test::write_text(root() / "packed.yaml", "_base_: " + (root() / "pseudolabel.yaml").string() +
                                               "\ninput: {format: images, root: " + images.string() +
                                               ", split: \"\"}\nstore: {pack_images: true}\n");
  const auto run = run_command(tool_path("must_pseudolabel") + " --threads 1 --config " +
                               (root() / "packed.yaml").string() + " --output-dir " + (root() / "packed").string());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(manifest("packed")["policy"]["pack_images"].get<bool>());
  const labels::StoreReader reader(root() / "packed");
  ASSERT_EQ(reader.keys().size(), 6u);
  for (int64_t i = 0; i < 6; ++i) {
    const data::Sample sample = reader.get(labels::key_of(i));
    const std::string file = (images / ("image" + std::to_string(i) + ".png")).string();
    EXPECT_EQ(sample.source, file);
    EXPECT_EQ(sample.encoded, read_file(file)) << "image " << i;  // the file's own bytes
    EXPECT_TRUE(sample.has(Task::kDepth));
  }
  // Plain Python decodes the packed images too.
  const auto python = run_command(must::test::python() + " " + test::source_path("tests/labels/read_store.py").string() + " " +
                                  (root() / "packed").string());
  ASSERT_EQ(python.exit_code, 0) << python.output;
  const nlohmann::json read = nlohmann::json::parse(python.output);
  EXPECT_GT(read[labels::key_of(0)]["image"].get<int64_t>(), 0);
  // The unpacked store has no images.
  EXPECT_TRUE(labels::StoreReader(root() / "reference").get(labels::key_of(0)).encoded.empty());
}

TEST_F(Pseudolabel, AStoreIsNotContinuedWithOtherTeachersOrInputs) {
  ASSERT_EQ(label("", "other").exit_code, 0);
  const auto swapped = label("", "other", "--set teachers.depth.weights=" +
                                              (root() / "teachers/normals/model_final.safetensors").string() +
                                              " --set teachers.depth.config=" +
                                              test::source_path("configs/quick/teachers/normals.yaml").string());
  // normals' config has no depth head: refused before anything
  EXPECT_EQ(swapped.exit_code, 2) << swapped.output;
  EXPECT_TRUE(contains(swapped.output, "teachers.depth.config")) << swapped.output;
  // Same architecture, other weights: the manifest's plan refuses them.
  // The depth teacher with one weight's last byte changed: a valid file, other weights.
  const fs::path copy = root() / "depth_copy.safetensors";
  fs::copy_file(root() / "teachers/depth/model_final.safetensors", copy);
  std::string weights = read_file(copy);
  weights.back() ^= 0x01;
  write_file(copy, weights);
  const auto other = label("", "other", "--set teachers.depth.weights=" + copy.string());
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_TRUE(contains(other.output, "was written with another weights for depth")) << other.output;
  // Other inputs: refused too, and the store's shards are untouched.
  const std::vector<std::string> before = shard_hashes("other");
  const auto inputs = label("", "other", "--set input.split=val");
  EXPECT_EQ(inputs.exit_code, 2) << inputs.output;
  EXPECT_TRUE(contains(inputs.output, "was written with another input list")) << inputs.output;
  EXPECT_EQ(shard_hashes("other"), before);
  EXPECT_EQ(verify("other").exit_code, 0);
}

TEST_F(Pseudolabel, AStoreOfAnotherFormatVersionIsRefusedNamingIt) {
  ASSERT_EQ(label("", "old").exit_code, 0);
  nlohmann::json m = manifest("old");
  m["format"] = "must-labels-1";
  write_file(root() / "old" / "manifest.json", m.dump(1));
  for (const auto& run : {verify("old"), label("", "old")}) {
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_TRUE(contains(run.output, "store format 'must-labels-1' is not must-labels-2")) << run.output;
  }
  EXPECT_THROW(labels::StoreReader(root() / "old"), Error);
}

}  // namespace
}  // namespace must
