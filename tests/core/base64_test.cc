#include "core/base64.h"

#include <gtest/gtest.h>

#include <random>

namespace cadence {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(Bytes(plain)), encoded);
    EXPECT_EQ(Base64Encode(std::string_view(plain)), encoded);
    std::vector<uint8_t> out;
    ASSERT_TRUE(Base64Decode(encoded, &out).ok()) << encoded;
    EXPECT_EQ(std::string(out.begin(), out.end()), plain);
    std::string text_out;
    ASSERT_TRUE(Base64Decode(encoded, &text_out).ok()) << encoded;
    EXPECT_EQ(text_out, plain);
    EXPECT_EQ(Base64DecodedSize(encoded), std::string_view(plain).size());
  }
}

TEST(Base64Test, EncodeAppendsAndDecodeReplaces) {
  std::string out = "prefix:";
  Base64Encode(std::string_view("foo"), &out);
  Base64Encode(Bytes("ba"), &out);
  EXPECT_EQ(out, "prefix:Zm9vYmE=");
  std::vector<uint8_t> decoded = {1, 2, 3, 4, 5, 6, 7};
  ASSERT_TRUE(Base64Decode("Zg==", &decoded).ok());
  EXPECT_EQ(decoded, Bytes("f"));
}

TEST(Base64Test, RandomRoundTripAllLengths) {
  std::mt19937 rng(7);
  for (size_t n = 0; n < 300; ++n) {
    std::vector<uint8_t> data(n);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const std::string encoded = Base64Encode(data);
    EXPECT_EQ(encoded.size(), (n + 2) / 3 * 4);
    EXPECT_EQ(Base64DecodedSize(encoded), n);
    std::vector<uint8_t> back;
    ASSERT_TRUE(Base64Decode(encoded, &back).ok());
    EXPECT_EQ(back, data) << n;
  }
}

TEST(Base64Test, Utf8TextRoundTrips) {
  std::string back;
  ASSERT_TRUE(Base64Decode(Base64Encode(std::string_view("hello, 世界")), &back).ok());
  EXPECT_EQ(back, "hello, 世界");
}

TEST(Base64Test, AcceptsMissingPadding) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(Base64Decode("Zm9vYg", &out).ok());
  EXPECT_EQ(std::string(out.begin(), out.end()), "foob");
  EXPECT_EQ(Base64DecodedSize("Zm9vYg"), 4u);
  ASSERT_TRUE(Base64Decode("Zm9vYmE", &out).ok());
  EXPECT_EQ(std::string(out.begin(), out.end()), "fooba");
}

TEST(Base64Test, RejectsBadInputNamingOffset) {
  std::vector<uint8_t> out;
  Status s = Base64Decode("Zm9v*mFy", &out);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("offset 4"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'*'"), std::string::npos) << s.message();
  EXPECT_NE(Base64Decode("Zm9v\x01mFy", &out).message().find("0x01"), std::string::npos);
  EXPECT_FALSE(Base64Decode("Zm9vY", &out).ok());      // 4n+1 characters
  EXPECT_FALSE(Base64Decode("Zm=9vYmFy", &out).ok());  // padding in the middle
  EXPECT_FALSE(Base64Decode("Zm9v\nYmFy", &out).ok()); // whitespace only with skip_whitespace
  EXPECT_FALSE(Base64Decode("Zg===", &out).ok());
  EXPECT_FALSE(Base64Decode("ab$d", &out).ok());
  EXPECT_FALSE(Base64Decode("Zm9-", &out).ok());  // URL-safe only when asked
  Status pad = Base64Decode("Zm9vYm=", &out);
  EXPECT_FALSE(pad.ok());
  EXPECT_NE(pad.message().find("padding at offset 6"), std::string::npos) << pad.message();
  Status length = Base64Decode("Zm9vY=", &out);
  EXPECT_NE(length.message().find("6 characters"), std::string::npos) << length.message();
}

TEST(Base64Test, SkipsWhitespaceWhenAskedAndNamesOffsetsInTheInputAsGiven) {
  const Base64DecodeOptions wrapped{.skip_whitespace = true};
  std::string out;
  ASSERT_TRUE(Base64Decode(" Zm9v\r\nYmFy\n", &out, wrapped).ok());
  EXPECT_EQ(out, "foobar");
  ASSERT_TRUE(Base64Decode("Zm9v\n Yg==\n", &out, wrapped).ok());
  EXPECT_EQ(out, "foob");
  Status s = Base64Decode("Zm9v\n\nY*Fy", &out, wrapped);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("offset 7"), std::string::npos) << s.message();
  EXPECT_FALSE(Base64Decode("Zm\n=9vYmFy", &out, wrapped).ok());
}

TEST(Base64Test, UrlSafeAlphabetWhenAsked) {
  // 0xfb 0xff 0xbf encodes to "+/+/" in the standard alphabet and "-_-_" in the URL-safe one.
  const std::vector<uint8_t> bytes = {0xfb, 0xff, 0xbf};
  ASSERT_EQ(Base64Encode(bytes), "+/+/");
  std::vector<uint8_t> out;
  EXPECT_FALSE(Base64Decode("-_-_", &out).ok());
  ASSERT_TRUE(Base64Decode("-_-_", &out, {.accept_url_safe = true}).ok());
  EXPECT_EQ(out, bytes);
  ASSERT_TRUE(Base64Decode("+/-_", &out, {.accept_url_safe = true}).ok());
  EXPECT_EQ(out, bytes);
}

// Random byte strings: decoding never crashes, and whatever it accepts re-encodes to the same
// characters (padding aside), so no input is silently misread.
TEST(Base64Test, RandomInputIsRejectedOrDecodedConsistently) {
  std::mt19937 rng(11);
  const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n*";
  int accepted = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    std::string text(rng() % 13, ' ');
    for (char& c : text) c = chars[rng() % chars.size()];
    std::vector<uint8_t> out;
    if (!Base64Decode(text, &out).ok()) continue;
    ++accepted;
    std::string again = Base64Encode(out);
    std::string unpadded = text;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    while (!again.empty() && again.back() == '=') again.pop_back();
    // The last character may carry unused low bits that re-encode as zero.
    ASSERT_EQ(again.size(), unpadded.size()) << text;
    if (!again.empty()) {
      EXPECT_EQ(again.substr(0, again.size() - 1), unpadded.substr(0, unpadded.size() - 1)) << text;
    }
  }
  EXPECT_GT(accepted, 100);
}

}  // namespace
}  // namespace cadence
