// Prompt composition for LLM brains (engine, remote): the persona card, the session instructions,
// the triggered lore, the example dialogue, the conversation, the user's paralinguistic cues as
// context, a persona reminder re-injected as the conversation grows, and the card's
// post-history instructions placed last. Macros are expanded.
//
// The result is the message list a brain feeds to its chat template:
//   [system: persona + instructions + lore + examples]
//   history... (a system reminder after every `reminder_every_messages` history messages)
//   [system: how the user sounded]          (when cues are present)
//   [system: post-history instructions]     (always last)
// Pure; thread-safe. Lives in brain/ (not persona/) because it speaks the brain's Message types.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "brain/brain.h"
#include "persona/persona.h"

namespace cadence::brain {

struct PromptOptions {
  std::string user_name = "User";  // {{user}}
  int reminder_every_messages = 8;  // 0: never re-inject
  // Renders cues as context for the prompt. Null: paralinguistics::CuesToPromptText.
  std::function<std::string(const paralinguistics::UtteranceCues&)> render_cues;
};

std::vector<Message> ComposePrompt(const persona::Persona& persona, const ReplyRequest& request,
                                   const PromptOptions& options = {});

// The one-paragraph reminder (name, voice of the character, never mention being an AI, reply
// language), also used by the guarded brain when it regenerates a flagged reply.
std::string PersonaReminder(const persona::Persona& persona, std::string_view language, std::string_view user_name = "User");

}  // namespace cadence::brain
