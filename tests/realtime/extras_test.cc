// Cadence's additions on a session: personas (by id and inline card) and paralinguistic cues,
// with the real PersonaStore and Analyzer.
#include <gtest/gtest.h>

#include "fakes.h"
#include "paralinguistics/analyzer.h"
#include "persona/persona.h"
#include "persona/store.h"

namespace cadence::realtime::testing {
namespace {

TEST(ExtrasTest, PersonaByIdReachesTheBrainAndBindsItsVoice) {
  static const persona::PersonaStore store = persona::PersonaStore::Embedded();
  Harness h(false, 15u << 20, [](Engines* e) { e->personas = &store; });
  h.Client({{"type", "session.update"}, {"session", {{"persona", "xiaoyu"}}}});
  const Json s = h.Last("session.updated")["session"];
  EXPECT_EQ(s["persona"], "xiaoyu");
  EXPECT_EQ(s["audio"]["output"]["voice"], store.Find("xiaoyu")->voice.voice);
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "你好"}}}}}}});
  h.Client({{"type", "response.create"}});
  h.io->Drain();
  ASSERT_NE(h.brain.last_request.persona, nullptr);
  EXPECT_EQ(h.brain.last_request.persona->id, "xiaoyu");
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "completed");
  // Unknown persona: error naming the field; the session keeps xiaoyu.
  h.Client({{"type", "session.update"}, {"event_id", "p1"}, {"session", {{"persona", "nobody"}}}});
  const Json err = h.Last("error")["error"];
  EXPECT_EQ(err["param"], "session.persona");
  EXPECT_NE(err["message"].get<std::string>().find("nobody"), std::string::npos);
  EXPECT_EQ(err["event_id"], "p1");
  h.Client({{"type", "session.update"}, {"session", {{"instructions", "x"}}}});
  EXPECT_EQ(h.Last("session.updated")["session"]["persona"], "xiaoyu");
}

TEST(ExtrasTest, InlineCardPersona) {
  Harness h;
  const Json card = {{"spec", "chara_card_v2"},
                     {"spec_version", "2.0"},
                     {"data", {{"name", "Captain Vale"}, {"description", "A ship's captain."},
                               {"personality", "gruff"}, {"scenario", ""}, {"first_mes", "Ahoy."},
                               {"mes_example", ""}}}};
  h.Client({{"type", "session.update"}, {"session", {{"persona", card}}}});
  ASSERT_TRUE(h.Of("error").empty()) << h.Last("error").dump();
  EXPECT_EQ(h.Last("session.updated")["session"]["persona"], "Captain Vale");
  h.Client({{"type", "response.create"}, {"response", {{"output_modalities", {"text"}}}}});
  h.io->Drain();
  ASSERT_NE(h.brain.last_request.persona, nullptr);
  EXPECT_EQ(h.brain.last_request.persona->name, "Captain Vale");
}

TEST(ExtrasTest, ParalinguisticCuesAfterAVoiceTurn) {
  static const paralinguistics::Analyzer analyzer;
  Harness h(false, 15u << 20, [](Engines* e) { e->analyzer = &analyzer; });
  h.Client({{"type", "session.update"}, {"session", {{"paralinguistics", true}}}});
  EXPECT_EQ(h.Last("session.updated")["session"]["paralinguistics"], true);
  h.AppendPcm16(300, 0.0);
  h.AppendPcm16(1000, 0.3);  // a steady 300 Hz tone
  h.AppendPcm16(700, 0.0);
  h.io->Drain();
  const Json ev = h.Last("conversation.item.input_audio_paralinguistics.completed");
  ASSERT_FALSE(ev.is_null());
  EXPECT_EQ(ev["item_id"], h.Last("input_audio_buffer.committed")["item_id"]);
  const Json& cues = ev["cues"];
  // The analyzer heard the committed span: padding + tone + the closing silence.
  const double committed_s = (h.Last("input_audio_buffer.speech_stopped")["audio_end_ms"].get<int>() -
                              h.Last("input_audio_buffer.speech_started")["audio_start_ms"].get<int>()) / 1000.0;
  EXPECT_NEAR(cues["duration_s"].get<double>(), committed_s, 0.04);
  EXPECT_NEAR(cues["pitch"]["mean_hz"].get<double>(), 300.0, 10.0);
  // The brain got the same cues with the reply request.
  ASSERT_TRUE(h.brain.last_request.cues.has_value());
  EXPECT_NEAR(h.brain.last_request.cues->pitch.mean_hz, 300.0, 10.0);
}

TEST(ExtrasTest, NoCuesWhenParalinguisticsIsOff) {
  static const paralinguistics::Analyzer analyzer;
  Harness h(false, 15u << 20, [](Engines* e) { e->analyzer = &analyzer; });
  h.AppendPcm16(1000, 0.3);
  h.AppendPcm16(700, 0.0);
  h.io->Drain();
  EXPECT_TRUE(h.Of("conversation.item.input_audio_paralinguistics.completed").empty());
  EXPECT_FALSE(h.brain.last_request.cues.has_value());
}

}  // namespace
}  // namespace cadence::realtime::testing
