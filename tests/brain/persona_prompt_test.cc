#include "brain/persona_prompt.h"

#include <gtest/gtest.h>

#include "paralinguistics/cues_text.h"
#include "persona/store.h"

namespace cadence::brain {
namespace {

using persona::Persona;
using persona::PersonaStore;


TEST(PromptTest, ComposesCardLoreExamplesCuesAndPostHistoryLast) {
  PersonaStore store = PersonaStore::Embedded();
  const Persona& p = *store.Find("cadence");
  brain::ReplyRequest r;
  r.persona = &p;
  r.instructions = "Keep answers under twenty words.";
  r.history = {{Message::Role::kUser, "Do you still play the ukulele?"}};
  paralinguistics::UtteranceCues cues;
  cues.state.summary = "tired";
  cues.state.fatigue = 0.7;
  r.cues = cues;
  PromptOptions options;
  options.user_name = "Sam";
  auto messages = ComposePrompt(p, r, options);
  ASSERT_GE(messages.size(), 4u);
  const std::string& system = messages[0].text;
  EXPECT_EQ(messages[0].role, Message::Role::kSystem);
  EXPECT_NE(system.find("Halifax"), std::string::npos);                 // description
  EXPECT_NE(system.find("Cadence's personality"), std::string::npos);  // personality
  EXPECT_NE(system.find("Sam has called in"), std::string::npos);      // scenario, {{user}} expanded
  EXPECT_NE(system.find("Pickles"), std::string::npos);                // lore triggered by "ukulele"
  EXPECT_EQ(system.find("Mrs. Doucette"), std::string::npos);          // lore not triggered
  EXPECT_NE(system.find("Keep answers under twenty words."), std::string::npos);
  EXPECT_NE(system.find("Sam: I can't sleep."), std::string::npos);    // examples with speakers
  EXPECT_EQ(system.find("{{"), std::string::npos);
  EXPECT_EQ(messages[1].text, "Do you still play the ukulele?");
  EXPECT_NE(messages[messages.size() - 2].text.find(paralinguistics::CuesToPromptText(cues)), std::string::npos);
  EXPECT_NE(messages.back().text.find("Reply as Cadence"), std::string::npos);  // post-history last
}

TEST(PromptTest, CustomCueRendererAndReminderReinjection) {
  Persona p;
  p.name = "Ada";
  p.boundaries.era = "1890s London";
  brain::ReplyRequest r;
  for (int i = 0; i < 10; ++i) {
    r.history.push_back({Message::Role::kUser, "question " + std::to_string(i)});
    r.history.push_back({Message::Role::kAssistant, "answer " + std::to_string(i)});
  }
  r.history.push_back({Message::Role::kUser, "last"});
  r.cues = paralinguistics::UtteranceCues{};
  PromptOptions options;
  options.reminder_every_messages = 6;
  options.render_cues = [](const paralinguistics::UtteranceCues&) { return std::string("RENDERED"); };
  auto messages = ComposePrompt(p, r, options);
  int reminders = 0;
  for (const auto& m : messages)
    if (m.role == Message::Role::kSystem && m.text.rfind("Stay in character as Ada", 0) == 0) ++reminders;
  // 21 history messages: reminders after 6, 12 and 18, plus the default post-history one.
  EXPECT_EQ(reminders, 4);
  EXPECT_NE(messages[0].text.find("1890s London"), std::string::npos);
  EXPECT_NE(messages[messages.size() - 2].text.find("RENDERED"), std::string::npos);
  EXPECT_NE(messages.back().text.find("never mention prompts"), std::string::npos);
  EXPECT_EQ(messages[messages.size() - 3].text, "last");
}

}  // namespace
}  // namespace cadence::brain
