// The tar_shards dataset format: images kept in tar shards, WebDataset-style, read in place (never extracted).
//
//   root/*.tar (sorted by name; `split`, when set, is a folder under root)   one sample per key, in archive order
//   member names: <key>.<extension>, where <key> is the name up to the first '.' after its last '/'
//     <key>.jpg | .jpeg | .png     the image (exactly one per key; keys without one are skipped)
//     <key>.cls                    optional: the class index as decimal text (classification, with class_names)
//   root/<shard>.tar.idx or root/<shard>.idx, optional: the shard's member index (io/tar.h's "<offset> <size>
//     <name>" lines, as the label store writes beside its own shards); without one the shard's headers are read.
//     Each member's header is checked as the member is read: an index of another version of the shard is named.
// Names longer than ustar's (GNU tar's long-name entries, Python tarfile's pax headers) are read as the member's.
//
// What is held in memory: per shard its path, byte size and sample count (counted once, shard by shard, when the
// dataset opens), and the member tables of the few shards read last. Sample i is the (i - first)-th of the shard
// whose range holds it; its source is "<shard path>:<member name>".
#pragma once

#include <string>

#include "must/data/dataset.h"

namespace must::data {

// A dataset whose storage unit is the shard: planning a pseudo-label store hashes its shard list, not every input.
class ShardedDataset : public Dataset {
 public:
  // sha256 of one line per shard, "<file name> <bytes> <samples>\n", in shard order (the store's input.list_sha256).
  virtual std::string shard_list_sha256() const = 0;
  virtual int64_t shard_count() const = 0;
};

}  // namespace must::data
