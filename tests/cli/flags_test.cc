// The typed flag parser: every value given and every default is checked in Parse(), so a command
// never runs with a value it did not ask for.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cli/command.h"

namespace cadence::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The flags of a small generate-like command.
Flags Declared() {
  Flags flags("test [options]");
  flags.String("prompt", "TEXT", "the prompt");
  flags.String("model", "FILE", "model file", "m.gguf");
  flags.Int("n", "N", "tokens", 128, 1, 1000);
  flags.Short('n', "n");
  flags.Double("temp", "T", "temperature", 0.8, 0.0, 100.0);
  flags.Int("seed", "S", "seed", 0, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  flags.Int("threads", "N", "threads (default: all cores)", std::nullopt, 1, 64);
  flags.Choice("window", "window", {"full", "speech"}, "full");
  flags.Switch("raw", "no template");
  return flags;
}

struct Outcome {
  bool ok = false;
  int exit_code = -1;
  std::string err;
};

Outcome ParseArgs(Flags* flags, std::initializer_list<std::string> args) {
  std::vector<std::string> storage{"test"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  Outcome out;
  testing::internal::CaptureStderr();
  out.ok = flags->Parse(static_cast<int>(argv.size()), argv.data(), &out.exit_code);
  out.err = testing::internal::GetCapturedStderr();
  return out;
}

TEST(FlagsTest, DefaultsAreReadWhenNothingIsGiven) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {});
  ASSERT_TRUE(out.ok) << out.err;
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(flags.GetInt("n"), 128);
  EXPECT_DOUBLE_EQ(flags.GetDouble("temp"), 0.8);
  EXPECT_EQ(flags.Get("model"), "m.gguf");
  EXPECT_EQ(flags.Get("window"), "full");
  EXPECT_FALSE(flags.Has("prompt"));
  EXPECT_EQ(flags.Get("prompt"), "");
  EXPECT_FALSE(flags.Has("threads"));
  EXPECT_FALSE(flags.On("raw"));
}

TEST(FlagsTest, GivenValuesAreTyped) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"--n", "12", "--temp", "0", "--seed", "-3", "--threads", "4", "--window",
                                   "speech", "--raw", "--prompt", "hi there", "file.wav"});
  ASSERT_TRUE(out.ok) << out.err;
  EXPECT_EQ(flags.GetInt("n"), 12);
  EXPECT_DOUBLE_EQ(flags.GetDouble("temp"), 0.0);
  EXPECT_EQ(flags.GetInt("seed"), -3);
  EXPECT_EQ(flags.GetInt("threads"), 4);
  EXPECT_EQ(flags.Get("window"), "speech");
  EXPECT_TRUE(flags.On("raw"));
  EXPECT_EQ(flags.Get("prompt"), "hi there");
  EXPECT_EQ(flags.positional(), std::vector<std::string>{"file.wav"});
}

TEST(FlagsTest, NameEqualsValue) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"--n=7", "--temp=1.5e-1", "--prompt=a=b"});
  ASSERT_TRUE(out.ok) << out.err;
  EXPECT_EQ(flags.GetInt("n"), 7);
  EXPECT_DOUBLE_EQ(flags.GetDouble("temp"), 0.15);
  EXPECT_EQ(flags.Get("prompt"), "a=b");
}

TEST(FlagsTest, ShortAlias) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"-n", "5"});
  ASSERT_TRUE(out.ok) << out.err;
  EXPECT_EQ(flags.GetInt("n"), 5);
}

TEST(FlagsTest, BadIntIsAUsageError) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"-n", "abc"});
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: --n must be a whole number from 1 to 1000 (got 'abc')\n");
}

TEST(FlagsTest, BadDoubleIsAUsageError) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"--temp", "hot"});
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: --temp must be a number from 0 to 100 (got 'hot')\n");
}

TEST(FlagsTest, OutOfRangeIsAUsageError) {
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"--n", "0"}, {"--n", "1001"}, {"--n", "99999999999"}, {"--temp", "-0.1"}, {"--temp", "1e9"},
           {"--temp", "inf"}, {"--temp", "nan"}, {"--threads", "0"}, {"--seed", "2147483648"}}) {
    Flags flags = Declared();
    Outcome out = ParseArgs(&flags, {name, value});
    EXPECT_FALSE(out.ok) << name << " " << value;
    EXPECT_EQ(out.exit_code, 2) << name << " " << value;
    EXPECT_THAT(out.err, HasSubstr("error: " + name + " must be ")) << value;
    EXPECT_THAT(out.err, HasSubstr("(got '" + value + "')")) << name;
  }
}

TEST(FlagsTest, TrailingGarbageAndOtherMalformedNumbers) {
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"--n", "12abc"}, {"--n", "12.0"}, {"--n", " 12"}, {"--n", "12 "}, {"--n", ""}, {"--n", "0x10"},
           {"--temp", "0.8x"}, {"--temp", "0,8"}, {"--temp", ""}, {"--temp", "."}}) {
    Flags flags = Declared();
    Outcome out = ParseArgs(&flags, {name + "=" + value});
    EXPECT_FALSE(out.ok) << name << "=" << value;
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_THAT(out.err, HasSubstr("(got '" + value + "')"));
  }
}

TEST(FlagsTest, ChoiceOutsideItsSet) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"--window", "half"});
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: --window must be one of full, speech (got 'half')\n");
}

TEST(FlagsTest, MissingValue) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"--prompt", "x", "--n"});
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: option --n needs a value (N)\n");
}

TEST(FlagsTest, UnknownFlag) {
  for (std::string arg : {"--bogus", "--bogus=1", "-x"}) {
    Flags flags = Declared();
    Outcome out = ParseArgs(&flags, {arg});
    EXPECT_FALSE(out.ok) << arg;
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_THAT(out.err, HasSubstr("error: unknown option ")) << arg;
    EXPECT_THAT(out.err, HasSubstr("usage: test [options]")) << arg;
  }
}

TEST(FlagsTest, SwitchTakesNoValue) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"--raw=yes"});
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.err, "error: --raw takes no value (got 'yes')\n");
}

TEST(FlagsTest, DefaultsAreCheckedToo) {
  {
    Flags flags("test");
    flags.Int("n", "N", "tokens", 0, 1, 10);
    Outcome out = ParseArgs(&flags, {"--n", "5"});
    EXPECT_FALSE(out.ok);
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_THAT(out.err, HasSubstr("error: --n must be a whole number from 1 to 10 (got '0', the default"));
  }
  {
    Flags flags("test");
    flags.Double("p", "P", "probability", 1.5, 0.0, 1.0);
    Outcome out = ParseArgs(&flags, {});
    EXPECT_FALSE(out.ok);
    EXPECT_THAT(out.err, HasSubstr("error: --p must be a number from 0 to 1 (got '1.5', the default"));
  }
  {
    Flags flags("test");
    flags.Choice("w", "window", {"full", "speech"}, "half");
    Outcome out = ParseArgs(&flags, {});
    EXPECT_FALSE(out.ok);
    EXPECT_THAT(out.err, HasSubstr("error: --w must be one of full, speech (got 'half', the default"));
  }
}

TEST(FlagsTest, LastValueWins) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"--n", "3", "--n=4"});
  ASSERT_TRUE(out.ok) << out.err;
  EXPECT_EQ(flags.GetInt("n"), 4);
}

TEST(FlagsTest, NegativeNumbersAreValuesAndPositionals) {
  Flags flags = Declared();
  Outcome out = ParseArgs(&flags, {"--seed", "-7", "-5"});
  ASSERT_TRUE(out.ok) << out.err;
  EXPECT_EQ(flags.GetInt("seed"), -7);
  EXPECT_EQ(flags.positional(), std::vector<std::string>{"-5"});
}

TEST(FlagsTest, HelpShowsTypesRangesAndDefaults) {
  Flags flags = Declared();
  testing::internal::CaptureStdout();
  Outcome out = ParseArgs(&flags, {"--help", "--n", "abc"});
  const std::string help = testing::internal::GetCapturedStdout();
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(help, flags.Help());
  EXPECT_THAT(help, HasSubstr("--n N"));
  EXPECT_THAT(help, HasSubstr("tokens (integer 1..1000; default: 128)"));
  EXPECT_THAT(help, HasSubstr("temperature (0..100; default: 0.8)"));
  EXPECT_THAT(help, HasSubstr("seed (default: 0)"));
  EXPECT_THAT(help, HasSubstr("--window full|speech"));
  EXPECT_THAT(help, HasSubstr("model file (default: m.gguf)"));
  EXPECT_THAT(help, HasSubstr("-n                        same as --n"));
  EXPECT_THAT(help, Not(HasSubstr("--raw R")));
}

TEST(FlagsDeathTest, ReadingAFlagAsTheWrongTypeIsAProgrammingError) {
  Flags flags = Declared();
  ASSERT_TRUE(ParseArgs(&flags, {}).ok);
  EXPECT_DEATH(flags.GetInt("temp"), "GetInt\\(\"temp\"\\)");
  EXPECT_DEATH(flags.GetDouble("nope"), "GetDouble\\(\"nope\"\\)");
  EXPECT_DEATH(flags.Get("n"), "Get\\(\"n\"\\)");
  EXPECT_DEATH(flags.GetInt("threads"), "no default and was not given");
}

}  // namespace
}  // namespace cadence::cli
