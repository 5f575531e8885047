// The one sentence splitter: cases from the three splitters it replaced (speech's SplitSentences,
// realtime's SentenceStream, persona's SentenceSplitter) plus its own.
#include "speech/tts/text_split.h"

#include <gtest/gtest.h>

#include <random>

namespace cadence::speech {
namespace {

using Pieces = std::vector<std::string>;

// Streams `chunks` through one splitter and flushes.
Pieces Stream(const std::vector<std::string>& chunks, SentenceSplitOptions options = {}) {
  SentenceSplitter splitter(options);
  Pieces out;
  for (const auto& chunk : chunks) splitter.Push(chunk, &out);
  splitter.Flush(&out);
  return out;
}

// The realtime reply stream's settings.
SentenceSplitOptions Realtime() { return {.max_bytes = 200, .cut_first_clause = true}; }

TEST(SplitSentences, EnglishKeepsPunctuationAndDecimals) {
  auto s = SplitSentences("Hello there! It costs 3.50 dollars. Really?! Yes...  ");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], "Hello there!");
  EXPECT_EQ(s[1], "It costs 3.50 dollars.");
  EXPECT_EQ(s[2], "Really?!");
  EXPECT_EQ(s[3], "Yes...");
}

TEST(SplitSentences, ChineseFullwidthStops) {
  auto s = SplitSentences("你好。今天天气很好！你想出去吗？好");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], "你好。");
  EXPECT_EQ(s[1], "今天天气很好！");
  EXPECT_EQ(s[2], "你想出去吗？");
  EXPECT_EQ(s[3], "好");
}

TEST(SplitSentences, LongSentenceSplitsAtCommas) {
  std::string text;
  for (int i = 0; i < 12; ++i) text += "this clause is fairly long, ";
  text += "and it ends.";
  auto s = SplitSentences(text, {.max_bytes = 80});
  EXPECT_GT(s.size(), 3u);
  for (const auto& piece : s) {
    EXPECT_LE(piece.size(), 80u) << piece;
    EXPECT_TRUE(piece.ends_with(",") || piece.ends_with(".")) << piece;
  }
}

TEST(SplitSentences, EmptyAndWhitespace) {
  EXPECT_TRUE(SplitSentences("").empty());
  EXPECT_TRUE(SplitSentences("   \n  ").empty());
}

TEST(SplitSentences, SemicolonsNewlinesAndEllipses) {
  EXPECT_EQ(SplitSentences("First part; second part"), (Pieces{"First part;", "second part"}));
  EXPECT_EQ(SplitSentences("line one\nline two"), (Pieces{"line one", "line two"}));
  EXPECT_EQ(SplitSentences("嗯…好吧；那走吧"), (Pieces{"嗯…", "好吧；", "那走吧"}));
  EXPECT_EQ(SplitSentences("Well… maybe"), (Pieces{"Well…", "maybe"}));
  EXPECT_EQ(SplitSentences("a;b is code"), (Pieces{"a;b is code"}));  // no space: not a sentence end
}

TEST(SplitSentences, MarksRunsAndClosersStayWithTheSentence) {
  EXPECT_EQ(SplitSentences("真的吗？！是的。"), (Pieces{"真的吗？！", "是的。"}));
  EXPECT_EQ(SplitSentences("他说：“好的。”然后走了。"), (Pieces{"他说：“好的。”", "然后走了。"}));
  EXPECT_EQ(SplitSentences("「走吧！」她说。"), (Pieces{"「走吧！」", "她说。"}));
  EXPECT_EQ(SplitSentences("She said \"go.\" Then (quietly.) left"),
            (Pieces{"She said \"go.\"", "Then (quietly.)", "left"}));
}

TEST(SplitSentences, LatinMarkBeforeHanEndsTheSentence) {
  EXPECT_EQ(SplitSentences("OK.好的。"), (Pieces{"OK.", "好的。"}));
}

TEST(SplitSentences, PunctuationOnlyPiecesJoinThePreviousOne) {
  EXPECT_EQ(SplitSentences("Wait. !! Go"), (Pieces{"Wait.!!", "Go"}));
  EXPECT_EQ(SplitSentences("...\nHello"), (Pieces{"...", "Hello"}));  // nothing before it to join
}

TEST(SplitSentences, AbbreviationsAndInitialsAreNoEnd) {
  EXPECT_EQ(SplitSentences("Mr. Smith is here. Yes."), (Pieces{"Mr. Smith is here.", "Yes."}));
  EXPECT_EQ(SplitSentences("Ask Dr. Li, e.g. today. J. R. R. Tolkien wrote it."),
            (Pieces{"Ask Dr. Li, e.g. today.", "J. R. R. Tolkien wrote it."}));
  EXPECT_EQ(SplitSentences("So do I. Then go."), (Pieces{"So do I.", "Then go."}));
}

TEST(SplitSentences, NeverCutsInsideTags) {
  EXPECT_EQ(SplitSentences("Wait <break time=\"1.5s\"/> now. Ok"), (Pieces{"Wait <break time=\"1.5s\"/> now.", "Ok"}));
  EXPECT_EQ(SplitSentences("Ha [laughs. loudly!] yes. No"), (Pieces{"Ha [laughs. loudly!] yes.", "No"}));
  EXPECT_EQ(SplitSentences("<prosody rate=\"slow\">Slow. Down.</prosody> Ok"),
            (Pieces{"<prosody rate=\"slow\">Slow.", "Down.</prosody> Ok"}));
  // A comparison is no tag, and a bracket never closed is plain text.
  EXPECT_EQ(SplitSentences("If 3 < 5. Then yes."), (Pieces{"If 3 < 5.", "Then yes."}));
  EXPECT_EQ(SplitSentences("[unclosed. Still splits."), (Pieces{"[unclosed.", "Still splits."}));
}

TEST(SplitSentences, LongHanTextWithoutCommasIsCutBetweenCharacters) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "好";  // 300 bytes, no punctuation
  auto s = SplitSentences(text, {.max_bytes = 60});
  ASSERT_EQ(s.size(), 5u);
  std::string joined;
  for (const auto& piece : s) {
    EXPECT_LE(piece.size(), 60u);
    EXPECT_EQ(piece.size() % 3, 0u) << "cut inside a character";
    joined += piece;
  }
  EXPECT_EQ(joined, text);
}

TEST(SplitSentences, LongSentenceWithoutCommasIsCutAtASpace) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "word ";
  auto s = SplitSentences(text, {.max_bytes = 50});
  ASSERT_GT(s.size(), 3u);
  for (const auto& piece : s) {
    EXPECT_LE(piece.size(), 50u);
    EXPECT_FALSE(piece.ends_with("wor")) << "cut inside a word: " << piece;
  }
}

// persona::SentenceSplitter's case: chunks cut anywhere, decimals, quotes, Mandarin.
TEST(SentenceSplitter, StreamsAtSentenceEnds) {
  EXPECT_EQ(Stream({"Hello th", "ere. Version 3.5 is", " out! Really?", " \"Yes.\" 你好。我", "很好"}),
            (Pieces{"Hello there.", "Version 3.5 is out!", "Really?", "\"Yes.\"", "你好。", "我很好"}));
}

// realtime::SentenceStream's cases.
TEST(SentenceSplitter, CutsAsSoonAsASentenceIsComplete) {
  SentenceSplitter s(Realtime());
  Pieces out;
  s.Push("Hello there. How a", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "Hello there.");
  s.Push("re you? Fine", &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], "How are you?");
  s.Flush(&out);
  EXPECT_EQ(out.back(), "Fine");
}

TEST(SentenceSplitter, MandarinAbbreviationsAndTags) {
  EXPECT_EQ(Stream({"你好。今天", "天气很好！"}, Realtime()), (Pieces{"你好。", "今天天气很好！"}));
  EXPECT_EQ(Stream({"Mr. Smith is here. Yes."}, Realtime()), (Pieces{"Mr. Smith is here.", "Yes."}));
  EXPECT_EQ(Stream({"Wait <break time=\"1.5s\"/> now. Ok"}, Realtime()),
            (Pieces{"Wait <break time=\"1.5s\"/> now.", "Ok"}));
  EXPECT_EQ(Stream({"3.14 is pi. Done"}, Realtime()), (Pieces{"3.14 is pi.", "Done"}));
}

TEST(SentenceSplitter, FirstPieceEndsAtFirstClause) {
  EXPECT_EQ(Stream({"Well hello there, my old friend, how are you? Fine, thanks."}, Realtime()),
            (Pieces{"Well hello there,", "my old friend, how are you?", "Fine, thanks."}));
  EXPECT_EQ(Stream({"Hi, you. Ok"}, Realtime()), (Pieces{"Hi, you.", "Ok"}));  // too short to split
  EXPECT_EQ(Stream({"今天天气真的很好，我们出去走走吧。"}, Realtime()), (Pieces{"今天天气真的很好，", "我们出去走走吧。"}));
  // Off by default; and after a Flush the next text gets its own early cut.
  EXPECT_EQ(Stream({"Well hello there, my old friend."}), (Pieces{"Well hello there, my old friend."}));
  SentenceSplitter s(Realtime());
  Pieces out;
  s.Push("Well hello there, friend.", &out);
  s.Flush(&out);
  s.Push("And once again, my friend.", &out);
  s.Flush(&out);
  EXPECT_EQ(out, (Pieces{"Well hello there,", "friend.", "And once again,", "my friend."}));
}

TEST(SentenceSplitter, LongSentenceCutAtComma) {
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "word word, ";
  const auto out = Stream({long_text}, Realtime());
  ASSERT_GT(out.size(), 1u);
  for (const auto& s : out) EXPECT_LE(s.size(), 200u);
}

TEST(SentenceSplitter, WaitsAtAMarkOrTagThatTheNextChunkMayChange) {
  SentenceSplitter s;
  Pieces out;
  s.Push("It is 3.", &out);  // "3." may be "3.5"
  EXPECT_TRUE(out.empty());
  s.Push("5 now. Next <break time=", &out);
  EXPECT_EQ(out, (Pieces{"It is 3.5 now."}));
  s.Push("\"1s\"/> done. ", &out);
  EXPECT_EQ(out, (Pieces{"It is 3.5 now.", "Next <break time=\"1s\"/> done."}));
  s.Push("她说：“好。", &out);  // a closing quote may follow
  EXPECT_EQ(out.size(), 2u);
  s.Push("”", &out);
  s.Flush(&out);
  EXPECT_EQ(out.back(), "她说：“好。”");
}

// Any chunking of a text gives the same pieces as the whole text at once.
TEST(SentenceSplitter, ChunkingDoesNotChangeThePieces) {
  const std::string texts[] = {
      "Hello there! It costs 3.50 dollars. Really?! Yes... Mr. Smith, e.g. him, said \"go.\" Fine.",
      "你好。今天天气很好！他说：“好的。”然后…我们走吧；明天见？好",
      "Wait <break time=\"1.5s\"/> now. [laughs] That is funny, isn't it? 3 < 5; ok.\nNext line, here.",
      "Well hello there, my old friend, how are you doing on this fine and sunny day, and the next one, "
      "and the one after that, because I would like to know, truly, how every one of them went for you.",
  };
  std::mt19937 rng(3);
  for (const std::string& text : texts) {
    for (SentenceSplitOptions options : {SentenceSplitOptions{}, Realtime(), SentenceSplitOptions{.max_bytes = 40}}) {
      const Pieces whole = Stream({text}, options);
      for (int trial = 0; trial < 50; ++trial) {
        std::vector<std::string> chunks;
        for (size_t at = 0; at < text.size();) {
          size_t n = 1 + rng() % 7;
          chunks.push_back(text.substr(at, n));
          at += n;
        }
        ASSERT_EQ(Stream(chunks, options), whole) << text << " max " << options.max_bytes;
      }
    }
  }
}

TEST(ContainsHan, DetectsChinese) {
  EXPECT_TRUE(ContainsHan("hello 世界"));
  EXPECT_FALSE(ContainsHan("hello world, ça va?"));
  EXPECT_FALSE(ContainsHan("（）。！"));
}

}  // namespace
}  // namespace cadence::speech
