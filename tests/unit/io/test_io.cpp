#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/sha256.h"
#include "must/io/npy.h"
#include "must/io/tar.h"
#include "test_support.h"

namespace must::io {
namespace {

TEST(Npy, Float16RoundTripAndNumpyReadsIt) {
  test::ScratchDir dir;
  const torch::Tensor array = (torch::arange(12, torch::kFloat).view({3, 4}) / 8 - 0.5).to(torch::kHalf);
  const std::string bytes = encode_npy(array);
  EXPECT_EQ(bytes.compare(0, 6, "\x93NUMPY"), 0);
  EXPECT_NE(bytes.find("'descr': '<f2'"), std::string::npos);
  EXPECT_TRUE(torch::equal(decode_npy(bytes, "memory"), array));
  write_npy(dir / "half.npy", array);
  const auto numpy = test::run_command(must::test::python() + " -c \"import numpy as np; a = np.load('" +
                                       (dir / "half.npy").string() + "'); print(a.dtype, a.shape, float(a.sum()))\"");
  EXPECT_EQ(numpy.exit_code, 0) << numpy.output;
  EXPECT_EQ(numpy.output, "float16 (3, 4) 2.25\n");  // sum of k/8 - 0.5 for k < 12

  try {
    decode_npy(bytes.substr(0, bytes.size() - 3), "cut.npy");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.npy: .npy data is truncated"), std::string::npos) << e.what();
  }
}

// Writes a shard with a short, an empty, an exactly-512-byte and a long-named member.
std::vector<TarMember> write_shard(const fs::path& path, std::vector<std::pair<std::string, std::string>>& contents) {
  const std::string long_name = std::string(120, 'd') + "/" + std::string(90, 'n') + ".json";
  contents = {{"000001.json", "{\"source\": \"a.png\"}"},
              {"000001.empty", ""},
              {"000002.bin", std::string(512, '\x7f')},
              {long_name, "long"}};
  AtomicFileWriter out(path);
  TarWriter tar(out);
  for (const auto& [name, bytes] : contents) tar.add(name, bytes);
  tar.finish();
  out.commit();
  return tar.members();
}

TEST(Tar, MembersReadBackByIndexListAndPythonTarfile) {
  test::ScratchDir dir;
  const auto path = dir / "labels-000000.tar";
  std::vector<std::pair<std::string, std::string>> contents;
  const std::vector<TarMember> written = write_shard(path, contents);
  EXPECT_EQ(fs::file_size(path) % 512, 0u);
  EXPECT_EQ(list_tar(path), written);
  EXPECT_EQ(decode_tar_index(encode_tar_index(written), "idx"), written);
  for (size_t i = 0; i < contents.size(); ++i) {
    EXPECT_EQ(written[i].name, contents[i].first);
    EXPECT_EQ(read_file_range(path, written[i].offset, written[i].size), contents[i].second) << contents[i].first;
  }
  // Python's tarfile, no code of ours: the same names and bytes.
  const auto python = test::run_command(
      must::test::python() + " -c \"import tarfile, hashlib; t = tarfile.open('" + path.string() +
      "'); print([(m.name, m.size, m.mode, hashlib.sha256(t.extractfile(m).read()).hexdigest()[:8]) for m in t])\"");
  ASSERT_EQ(python.exit_code, 0) << python.output;
  for (const auto& [name, bytes] : contents) {
    const std::string expected = "('" + name + "', " + std::to_string(bytes.size()) + ", 420, '" +
                                 sha256_hex(bytes).substr(0, 8) + "')";
    EXPECT_NE(python.output.find(expected), std::string::npos) << expected << " in " << python.output;
  }
}

// Names longer than ustar's, as Python's tarfile writes them: a pax header's path (its default format) and GNU
// tar's ././@LongLink entry. list_tar gives the member its whole name and its own data's place.
TEST(Tar, LongNamesFromPaxHeadersAndGnuLongLinksAreTheMembers) {
  test::ScratchDir dir;
  const std::string name = std::string(150, 'k') + ".png";  // no '/': ustar's prefix cannot hold it
  for (const std::string format : {"PAX_FORMAT", "GNU_FORMAT"}) {
    const fs::path tar = dir / (format + ".tar");
    const auto written = test::run_command(
        must::test::python() + " -c \"import io, tarfile\nwith tarfile.open('" + tar.string() + "', 'w', format=tarfile." +
        format + ") as t:\n  for name, data in (('a.cls', b'3'), ('" + name +
        "', b'image bytes'), ('b.cls', b'4')):\n    info = tarfile.TarInfo(name); info.size = len(data); "
        "t.addfile(info, io.BytesIO(data))\"");
    ASSERT_EQ(written.exit_code, 0) << written.output;
    const std::vector<TarMember> members = list_tar(tar);
    ASSERT_EQ(members.size(), 3u) << format;
    EXPECT_EQ(members[0].name, "a.cls");
    EXPECT_EQ(members[1].name, name) << format;
    EXPECT_EQ(read_file_range(tar, members[1].offset, members[1].size), "image bytes") << format;
    EXPECT_EQ(members[2].name, "b.cls") << format;  // the long name applies to its member alone
    EXPECT_EQ(read_file_range(tar, members[2].offset, members[2].size), "4") << format;
  }
}

TEST(Tar, DamageAndTruncationAreNamed) {
  test::ScratchDir dir;
  const auto path = dir / "labels-000001.tar";
  std::vector<std::pair<std::string, std::string>> contents;
  write_shard(path, contents);
  std::string bytes = read_file(path);

  atomic_write_file(dir / "cut.tar", bytes.substr(0, 1024 + 300));  // ends inside the second member's header
  try {
    list_tar(dir / "cut.tar");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.tar"), std::string::npos) << e.what();
  }
  bytes[3] ^= 0x20;  // a flipped bit in the first header's name
  atomic_write_file(dir / "flipped.tar", bytes);
  try {
    list_tar(dir / "flipped.tar");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("flipped.tar: the tar header at byte 0 fails its checksum"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(decode_tar_index("12 34\n", "shard.idx"), Error);
  AtomicFileWriter out(dir / "bad.tar");
  TarWriter tar(out);
  EXPECT_THROW(tar.add(std::string(300, 'x'), "too long a name"), Error);
}

}  // namespace
}  // namespace must::io
