#include <gtest/gtest.h>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "test_support.h"

namespace must {
namespace {

TEST(AtomicWrite, CreatesParentsAndReplacesContentLeavingNoTemporary) {
  test::ScratchDir dir;
  const auto path = dir / "a/b/state.json";
  atomic_write_file(path, "first");
  EXPECT_EQ(read_file(path), "first");
  atomic_write_file(path, "second, longer");
  EXPECT_EQ(read_file(path), "second, longer");
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(path.parent_path())) {
    ++entries;
    EXPECT_EQ(entry.path().filename(), "state.json");
  }
  EXPECT_EQ(entries, 1);
}

TEST(AtomicWrite, FailureNamesTheFileAndKeepsTheOldContent) {
  test::ScratchDir dir;
  const auto path = dir / "kept.txt";
  atomic_write_file(path, "old");
  fs::create_directories(dir / "blocker");
  // Renaming a file over a non-empty directory fails: the old file elsewhere must be untouched.
  test::write_text(dir / "blocker/inside", "x");
  try {
    atomic_write_file(dir / "blocker", "new");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocker"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(path), "old");
}

TEST(AtomicFileWriter, NothingUnderTheFinalNameUntilCommitAndNoTemporaryWhenAbandoned) {
  test::ScratchDir dir;
  const auto path = dir / "shard.tar";
  {
    AtomicFileWriter out(path);
    out.write("part one, ");
    out.write("part two");
    EXPECT_EQ(out.size(), 18u);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists(out.temporary_path()));
    out.commit();
    EXPECT_FALSE(fs::exists(out.temporary_path()));
  }
  EXPECT_EQ(read_file(path), "part one, part two");
  EXPECT_EQ(read_file_range(path, 5, 3), "one");
  EXPECT_THROW(read_file_range(path, 10, 9), Error);  // past the end

  fs::path temporary;
  {
    AtomicFileWriter abandoned(path);  // e.g. an exception before commit()
    abandoned.write("half");
    temporary = abandoned.temporary_path();
  }
  EXPECT_FALSE(fs::exists(temporary));
  EXPECT_EQ(read_file(path), "part one, part two");  // the old file stays
}

TEST(AtomicFileWriter, AHashingWriterGivesTheSha256OfWhatItWrote) {
  test::ScratchDir dir;
  AtomicFileWriter out(dir / "shard.tar", /*hash=*/true);
  out.write("part one, ");
  out.write("part two");
  EXPECT_THROW(out.sha256_hex(), Error);  // not before commit()
  out.commit();
  EXPECT_EQ(out.sha256_hex(), sha256_file(dir / "shard.tar"));
  AtomicFileWriter plain(dir / "other");
  plain.commit();
  EXPECT_THROW(plain.sha256_hex(), Error);
}

TEST(ReadFile, MissingFileIsNamed) {
  try {
    read_file("/nonexistent/must/file.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/must/file.yaml"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
}

}  // namespace
}  // namespace must
