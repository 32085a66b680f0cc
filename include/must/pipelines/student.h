// must_train_student (MuST step three): the multi-task student trained on its sources' pseudo and real labels, on
// the engine the teachers use (train.h). Its schema is the teachers' (model, data, evaluation, train) with
// `data.train` replaced by two sections (data/data_config.h: sources_defaults(); student_defaults() here):
//
//   sources:                    where training samples come from, one entry per source, named by its key
//     <name>:
//       store: PATH             a pseudo-label store (must_pseudolabel --output-dir); "" = none
//       dataset: {...}          a labelled dataset; beside a store, the images the store was made from (default:
//                               the store's packed images, else the input its manifest names)
//       pseudo_tasks: [...]     the store's tasks to learn ([] = all of them)
//       real_tasks: [...]       the dataset's own labels to learn ([] = all of them for a dataset alone, none beside
//                               a store); a real label wins over the pseudo label of the same image and task
//       weight: 1.0             the source's share of each epoch (data/mixture.h: deterministic from seed, epoch,
//                               rank and world size)
//   student:
//     epoch_length: 0           samples per epoch drawn from the sources (0 = the sources' sizes summed)
//     loss_weighting:
//       type: fixed             fixed, paper or uncertainty (losses/loss_weighting.h)
//       weights: {task: w}      fixed: each task's weight (1 when not given)
//       teachers: {task: {batch_size, lr}}  paper: each teacher's global batch size and base rate; 0 = as the
//                               manifest of the first store that has the task records them (labels/manifest.h:
//                               data.loader.batch_size and train.optimizer.lr of the teacher's config)
//
// A sample carries the labels its source gives it; a task it lacks adds no loss for it (never a zero label).
#pragma once

#include <string_view>

#include "must/config/config.h"
#include "must/pipelines/train.h"

namespace must::pipelines {

// must_train_student's `student:` section: the epoch's length over its sources and the loss weighting.
std::string_view student_defaults();
// must_train_student's whole schema.
std::string_view student_schema();

// The sources as one dataset with their mixing sampler, and the loss weighting's options. Throws
// must::ConfigError naming the source's key on a bad source (missing store, other images, unknown task, ...).
TrainingData student_training_data(const config::Config& config);

// train_model on student_training_data: same outputs, resume and data parallelism as a teacher's run.
void train_student(const config::Config& config, const TrainRun& run);

}  // namespace must::pipelines
