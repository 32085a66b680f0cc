#include "must/data/data_config.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"

namespace must::data {
namespace {

config::Config data_config(const std::vector<std::string>& overrides) {
  return config::Config::load(data_defaults(), "", overrides).at("data");
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DataConfig, DefaultsMapToOptions) {
  const auto config = data_config({"data.train.format=cifar100", "data.train.root=/data/cifar", "data.loader.batch_size=64"});
  const DatasetOptions train = dataset_options_from_config(config.at("train"));
  EXPECT_EQ(train.format, "cifar100");
  EXPECT_EQ(train.root, "/data/cifar");
  EXPECT_EQ(dataset_options_from_config(config.at("eval")).format, "world");  // the eval dataset is separate
  const LoaderOptions training = loader_options_from_config(config.at("loader"), true);
  EXPECT_EQ(training.batch_size, 64);
  EXPECT_TRUE(training.shuffle);
  EXPECT_FALSE(loader_options_from_config(config.at("loader"), false).shuffle);
}

TEST(DataConfig, AugmentBuildsTheTrainingAndEvaluationPipelines) {
  const auto config = data_config({"data.augment.resize.mode=fixed", "data.augment.resize.size=[6, 8]",
                                   "data.augment.crop=[4, 4]", "data.augment.flip=1.0"});
  Sample sample;
  sample.image = torch::arange(10 * 12 * 3).view({10, 12, 3}).to(torch::kUInt8);
  sample.labels[Task::kSegmentation] = torch::zeros({10, 12}, torch::kLong);
  std::mt19937_64 rng(0);
  Sample train = sample, eval = sample;
  transform_from_config(config.at("augment"), true)->apply(train, rng);
  transform_from_config(config.at("augment"), false)->apply(eval, rng);
  EXPECT_EQ(train.image.sizes(), (std::vector<int64_t>{3, 4, 4}));  // resize, crop, flip, normalise
  EXPECT_EQ(train.labels.at(Task::kSegmentation).sizes(), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(eval.image.sizes(), (std::vector<int64_t>{3, 6, 8}));  // resize, normalise
}

TEST(DataConfig, ErrorsNameTheirKey) {
  EXPECT_NE(error_of([] { dataset_options_from_config(data_config({"data.train.format=voc"}).at("train")); })
                .find("key 'data.train.format'"),
            std::string::npos);
  EXPECT_NE(error_of([] { transform_from_config(data_config({"data.augment.resize.mode=big"}).at("augment"), true); })
                .find("data.augment.resize.mode"),
            std::string::npos);
  EXPECT_NE(error_of([] { transform_from_config(data_config({"data.augment.flip=2.0"}).at("augment"), true); })
                .find("data.augment.flip"),
            std::string::npos);
  EXPECT_NE(error_of([] { loader_options_from_config(data_config({"data.loader.workers=-1"}).at("loader"), true); })
                .find("data.loader.workers"),
            std::string::npos);
}

TEST(DataConfig, ExtraTrainingDatasetsFollowTrainInTheirFormat) {
  EXPECT_EQ(training_datasets_from_config(data_config({})).size(), 1u);
  const auto config = data_config({"data.train.format=voc_detection", "data.train.root=/voc/VOC2007",
                                   "data.train_extra.voc2012.format=voc_detection",
                                   "data.train_extra.voc2012.root=/voc/VOC2012", "data.train_extra.voc2012.split=trainval"});
  const std::vector<DatasetOptions> parts = training_datasets_from_config(config);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].root, "/voc/VOC2007");
  EXPECT_EQ(parts[1].root, "/voc/VOC2012");
  EXPECT_EQ(parts[1].split, "trainval");
  EXPECT_NE(error_of([] {
              training_datasets_from_config(data_config({"data.train.format=voc_detection", "data.train_extra.x.format=coco"}));
            }).find("key 'data.train_extra.x.format': must be data.train's format ('voc_detection')"),
            std::string::npos);
}

}  // namespace
}  // namespace must::data
