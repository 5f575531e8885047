#include "persona/card.h"

#include <cstdint>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "persona/macros.h"
#include "persona/png_card.h"

namespace cadence::persona {
namespace {

constexpr char kV2Card[] = R"({
  "spec": "chara_card_v2", "spec_version": "2.0",
  "data": {
    "name": "Mara", "description": "{{char}} is a lighthouse keeper.", "personality": "dry wit",
    "scenario": "", "first_mes": "Hello {{User}}, I'm {{CHAR}}.", "mes_example": "",
    "alternate_greetings": ["Evening."], "tags": ["sea"],
    "extensions": {"depth_prompt": {"depth": 4, "prompt": "x"}, "some_tool": {"keep": [1, 2, 3]}}
  }
})";

TEST(CardTest, ParsesV2AndKeepsUnknownExtensionsOnExport) {
  auto p = ParseCard(kV2Card, "test");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "Mara");
  EXPECT_EQ(p->id, "mara");
  EXPECT_EQ(p->alternate_greetings.size(), 1u);
  EXPECT_EQ(p->languages, std::vector<std::string>{"en"});
  auto exported = nlohmann::json::parse(ExportCardJson(*p));
  EXPECT_EQ(exported["spec"], "chara_card_v2");
  EXPECT_EQ(exported["data"]["extensions"]["some_tool"]["keep"], nlohmann::json({1, 2, 3}));
  EXPECT_EQ(exported["data"]["extensions"]["depth_prompt"]["depth"], 4);
  EXPECT_TRUE(exported["data"]["extensions"].contains("cadence"));
  // Round trip: the export parses back to the same persona.
  auto again = ParseCard(exported.dump());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->description, p->description);
}

TEST(CardTest, ParsesV3WithCadenceExtensionAndLorebook) {
  auto p = ParseCard(R"({"spec":"chara_card_v3","spec_version":"3.0","data":{
    "name":"Li Wei","nickname":"Wei","description":"d","first_mes":"hi",
    "character_book":{"scan_depth":2,"token_budget":50,"entries":[
      {"keys":["sword"],"content":"A jade sword.","enabled":true,"insertion_order":5,"selective":true,
       "secondary_keys":["jade"],"extensions":{"match_whole_words":false}},
      {"keys":[],"constant":true,"content":"Always.","enabled":true,"insertion_order":1}]},
    "extensions":{"cadence":{"id":"wei","voice":{"engine":"espeak","voice":"cmn-m","base_pitch_st":-2,"rate":0.9},
      "tone":{"emotion":"calm","energy":-0.3},"languages":["zh","en"],
      "boundaries":{"era":"Tang dynasty","unknown_topics":["gunpowder"]},"facts":{"age":41,"origin":"Luoyang"},
      "lines":["a","b"],"mood_lines":{"comfort":["c"]}}}}})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id, "wei");
  EXPECT_EQ(p->name, "Wei");  // V3 nickname is {{char}}
  EXPECT_EQ(p->voice.voice, "cmn-m");
  EXPECT_DOUBLE_EQ(p->voice.base_pitch_st, -2);
  EXPECT_EQ(p->tone.emotion, "calm");
  EXPECT_EQ(p->languages, (std::vector<std::string>{"zh", "en"}));
  EXPECT_EQ(p->boundaries.era, "Tang dynasty");
  EXPECT_EQ(p->facts.age, "41");
  EXPECT_EQ(p->facts.origin, "Luoyang");
  EXPECT_EQ(p->mood_lines.at("comfort").size(), 1u);
  ASSERT_EQ(p->lorebook.entries.size(), 2u);
  EXPECT_EQ(p->lorebook.scan_depth, 2);
  EXPECT_TRUE(p->lorebook.entries[0].selective);
  EXPECT_FALSE(p->lorebook.entries[0].match_whole_words);
  EXPECT_TRUE(p->lorebook.entries[1].constant);
}

TEST(CardTest, ParsesV1FlatCard) {
  auto p = ParseCard(R"({"name":"Old Bob","description":"a sailor","first_mes":"Ahoy <USER>, <BOT> here."})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id, "old-bob");
  EXPECT_EQ(ExpandMacros(p->first_mes, p->name, "you"), "Ahoy you, Old Bob here.");
  auto exported = nlohmann::json::parse(ExportCardJson(*p));
  EXPECT_EQ(exported["spec"], "chara_card_v3");
  EXPECT_EQ(exported["data"]["name"], "Old Bob");
}

TEST(CardTest, MalformedCardsGiveErrorsNamingTheField) {
  struct Case {
    const char* json;
    const char* expect_in_message;
  } cases[] = {
      {"", "empty"},
      {"not json", "neither JSON"},
      {"{\"spec\":\"chara_card_v2\"", "not valid JSON"},
      {"[1,2]", "neither JSON"},
      {"{\"foo\":1}", "neither a Character Card"},
      {R"({"spec":"chara_card_v9","data":{}})", "chara_card_v9"},
      {R"({"spec":"chara_card_v2","data":[]})", "data"},
      {R"({"spec":"chara_card_v2","data":{"name":""}})", "data.name"},
      {R"({"spec":"chara_card_v2","data":{"name":5}})", "data.name"},
      {R"({"spec":"chara_card_v2","data":{"name":"x","alternate_greetings":[1]}})", "data.alternate_greetings[0]"},
      {R"({"spec":"chara_card_v2","data":{"name":"x","character_book":{"entries":[{"keys":"k","content":3}]}}})",
       "data.character_book.entries[0].content"},
      {R"({"spec":"chara_card_v2","data":{"name":"x","character_book":{"entries":[{"content":"c"}]}}})",
       "entries[0].keys"},
      {R"({"spec":"chara_card_v2","data":{"name":"x","extensions":{"cadence":{"voice":{"rate":"fast"}}}}})",
       "data.extensions.cadence.voice.rate"},
      {R"({"spec":"chara_card_v2","data":{"name":"x","extensions":{"cadence":{"languages":["fr"]}}}})",
       "languages[0]"},
  };
  for (const auto& c : cases) {
    auto p = ParseCard(c.json);
    ASSERT_FALSE(p.ok()) << c.json;
    EXPECT_NE(p.status().message().find(c.expect_in_message), std::string::npos)
        << "card " << c.json << " gave: " << p.status().message();
  }
}

TEST(MacroTest, CaseInsensitiveAndSpaced) {
  EXPECT_EQ(ExpandMacros("{{char}} {{Char}} {{ CHAR }} {{user}} {{USER}} {{other}}", "Ann", "Bo"),
            "Ann Ann Ann Bo Bo {{other}}");
  EXPECT_EQ(ExpandMacros("unterminated {{char", "Ann", "Bo"), "unterminated {{char");
  EXPECT_EQ(ExpandMacros("你好{{user}}，我是{{char}}", "小雨", "朋友"), "你好朋友，我是小雨");
}

TEST(ExamplesTest, SplitsAtStartAndAttributesSpeakers) {
  auto blocks = SplitExamples(
      "<START>\n{{user}}: hi\n{{char}}: hello\nmore of it\n<start>\n{{User}}: q\nMara: a\n<START>\n", "Mara");
  ASSERT_EQ(blocks.size(), 2u);
  ASSERT_EQ(blocks[0].size(), 2u);
  EXPECT_EQ(blocks[0][0].speaker, "user");
  EXPECT_EQ(blocks[0][1].text, "hello\nmore of it");
  EXPECT_EQ(blocks[1][1].speaker, "char");
  EXPECT_EQ(blocks[1][1].text, "a");
}

// A minimal valid 1x1 RGBA PNG (IHDR, IDAT, IEND), no card inside.
std::string TinyPng() {
  static const unsigned char kPng[] = {
      0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
      0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
      0x0B, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0x7A, 0x5E,
      0xAB, 0x3F, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};
  return std::string(reinterpret_cast<const char*>(kPng), sizeof kPng);
}

TEST(PngCardTest, EmbedsAndExtractsPreferringCcv3) {
  auto v2 = EmbedCardJsonInPng(TinyPng(), R"({"name":"Old"})", /*also_v2=*/false);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  auto v3 = EmbedCardJsonInPng(TinyPng(), R"({"spec":"chara_card_v3","data":{"name":"New"}})", true);
  ASSERT_TRUE(v3.ok());
  auto json = ExtractCardJsonFromPng(*v3);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  auto p = ParseCard(*v3, "png");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "New");
  EXPECT_EQ(p->avatar_data_url.rfind("data:image/png;base64,", 0), 0u);
  auto old = ParseCard(*v2);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->name, "Old");
}

TEST(PngCardTest, MalformedPngsGiveClearErrors) {
  auto good = EmbedCardJsonInPng(TinyPng(), R"({"name":"X"})", true);
  ASSERT_TRUE(good.ok());
  // No card inside.
  auto none = ParseCard(TinyPng());
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no character card"), std::string::npos);
  // Every truncation fails cleanly (no crash, a message).
  for (size_t n = 8; n < good->size(); n += 7) {
    auto p = ParseCard(good->substr(0, n));
    EXPECT_FALSE(p.ok()) << "truncated at " << n;
    EXPECT_FALSE(p.status().message().empty());
  }
  // A flipped byte inside the card chunk is a CRC error naming the chunk.
  std::string corrupt = *good;
  corrupt[corrupt.find("ccv3") + 8] ^= 0x01;
  auto bad = ParseCard(corrupt);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("CRC"), std::string::npos) << bad.status().message();
  // A chunk length running past the end.
  std::string huge = TinyPng();
  huge[8] = 0x7F;
  EXPECT_NE(ParseCard(huge).status().message().find("past the end"), std::string::npos);
}

TEST(PngCardTest, BadBase64AndBadJsonInsideAreReported) {
  auto png = EmbedCardJsonInPng(TinyPng(), "this is not json", false);
  ASSERT_TRUE(png.ok());
  auto p = ParseCard(*png);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("png card"), std::string::npos) << p.status().message();
}

// A tEXt chunk with `keyword` and `text`, CRC included (independent of the code under test).
std::string TextChunk(const std::string& keyword, const std::string& text) {
  std::string data = keyword + std::string(1, '\0') + text;
  std::string type_and_data = "tEXt" + data;
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : type_and_data) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  c ^= 0xFFFFFFFFu;
  auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  return be32(static_cast<uint32_t>(data.size())) + type_and_data + be32(c);
}

// Payloads wrapped at 76 columns or in the URL-safe alphabet (seen from card tools) decode; a
// corrupt one names the chunk and the offset inside its text.
TEST(PngCardTest, WrappedAndUrlSafePayloadsDecodeCorruptOnesNameTheOffset) {
  std::string png = TinyPng();
  size_t iend = png.size() - 12;
  // "??" encodes with a '/' in the standard alphabet.
  std::string encoded = Base64Encode(std::string_view(R"({"name":"W??"})"));
  ASSERT_NE(encoded.find('/'), std::string::npos) << encoded;
  std::string url_safe = encoded;
  for (char& c : url_safe) c = c == '/' ? '_' : c == '+' ? '-' : c;
  std::string wrapped = url_safe.substr(0, 8) + "\r\n" + url_safe.substr(8);
  auto p = ParseCard(png.substr(0, iend) + TextChunk("chara", wrapped) + png.substr(iend));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "W??");

  std::string corrupt = encoded;
  corrupt[2] = '$';
  auto q = ParseCard(png.substr(0, iend) + TextChunk("chara", corrupt) + png.substr(iend));
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("tEXt chunk 'chara'"), std::string::npos) << q.status().message();
  EXPECT_NE(q.status().message().find("offset 2"), std::string::npos) << q.status().message();
}

TEST(PngCardTest, PrefersCcv3OverCharaWhateverTheOrder) {
  std::string png = TinyPng();
  size_t iend = png.size() - 12;
  std::string chara = TextChunk("chara", Base64Encode(R"({"spec":"chara_card_v2","data":{"name":"Version Two"}})"));
  std::string ccv3 = TextChunk("ccv3", Base64Encode(R"({"spec":"chara_card_v3","data":{"name":"Version Three"}})"));
  for (const std::string& chunks : {chara + ccv3, ccv3 + chara}) {
    std::string file = png.substr(0, iend) + chunks + png.substr(iend);
    auto p = ParseCard(file);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->name, "Version Three");
  }
  std::string v2_only = png.substr(0, iend) + chara + png.substr(iend);
  auto p = ParseCard(v2_only);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "Version Two");
  // Bad base64 inside the chunk names the chunk.
  std::string bad = png.substr(0, iend) + TextChunk("chara", "@@not base64@@") + png.substr(iend);
  auto b = ParseCard(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("'chara'"), std::string::npos) << b.status().message();
}

// Random byte mutations of valid JSON and PNG cards: every result is a persona or a Status with a
// message; nothing crashes (run under CADENCE_SANITIZE=ON to check memory safety too).
TEST(CardFuzzTest, MutatedCardsNeverCrash) {
  auto png = EmbedCardJsonInPng(TinyPng(), kV2Card, true);
  ASSERT_TRUE(png.ok());
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int failures = 0;
  for (const std::string& seed : {std::string(kV2Card), *png}) {
    for (int i = 0; i < 3000; ++i) {
      std::string mutated = seed;
      int edits = 1 + static_cast<int>(next() % 4);
      for (int e = 0; e < edits; ++e) {
        size_t at = next() % mutated.size();
        switch (next() % 3) {
          case 0: mutated[at] = static_cast<char>(next()); break;
          case 1: mutated.erase(at, 1 + next() % 8); break;
          case 2: mutated.insert(at, 1, static_cast<char>(next())); break;
        }
        if (mutated.empty()) mutated = "x";
      }
      auto p = ParseCard(mutated);
      if (!p.ok()) {
        ++failures;
        EXPECT_FALSE(p.status().message().empty());
      } else {
        (void)ExportCardJson(*p);
      }
    }
  }
  EXPECT_GT(failures, 0);
}

}  // namespace
}  // namespace cadence::persona
