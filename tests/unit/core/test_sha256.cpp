#include <gtest/gtest.h>

#include "must/core/check.h"
#include "must/core/sha256.h"
#include "test_support.h"

namespace must {
namespace {

// FIPS 180-4 / NIST example vectors.
TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, StreamingInOddPiecesMatchesOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += char(i * 7 + 3);
  Sha256 hash;
  for (size_t at = 0, piece = 1; at < data.size(); at += piece, piece = piece * 3 % 97 + 1) {
    hash.update(data.substr(at, piece));
  }
  EXPECT_EQ(hash.hex_digest(), sha256_hex(data));
}

TEST(Sha256, FileHashMatchesBytesAndMissingFileIsNamed) {
  test::ScratchDir dir;
  test::write_text(dir / "f.bin", "abc");
  EXPECT_EQ(sha256_file(dir / "f.bin"), sha256_hex("abc"));
  try {
    sha256_file(dir / "missing.bin");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.bin"), std::string::npos);
  }
}

}  // namespace
}  // namespace must
