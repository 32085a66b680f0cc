// The commented `train:` section: the schema of every training run (must_train_teacher, and must_eval, which
// accepts the same configs). Text only, in the engine library, so both tools' schemas can include it.
#pragma once

#include <string_view>

namespace must::engine {

std::string_view train_defaults();

}  // namespace must::engine
