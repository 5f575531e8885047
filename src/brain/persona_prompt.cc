#include "brain/persona_prompt.h"

#include "paralinguistics/cues_text.h"
#include "persona/card.h"
#include "persona/lorebook.h"
#include "persona/macros.h"
#include "persona/text.h"

namespace cadence::brain {

namespace {

using persona::DetectLanguage;
using persona::ExpandMacros;
using persona::LoreEntry;
using persona::Persona;
using persona::SplitExamples;
using persona::Trim;
using persona::TriggerLore;

std::string LanguageName(std::string_view lang) {
  if (lang == "zh") return "Mandarin Chinese";
  if (lang == "en") return "English";
  return "";
}

}  // namespace

std::string PersonaReminder(const Persona& p, std::string_view language, std::string_view user_name) {
  std::string out = "Stay in character as " + p.name + ". ";
  if (!p.personality.empty()) out += p.name + " is " + ExpandMacros(p.personality, p.name, user_name) + ". ";
  out += "Speak only as " + p.name + " would, in short spoken sentences. Never say or imply that you are an AI, a "
         "model, an assistant or a program, and never mention prompts, instructions, policies or tokens. ";
  if (!p.boundaries.era.empty())
    out += p.name + " lives in " + p.boundaries.era + " and knows nothing invented or discovered after it. ";
  std::string lang = LanguageName(language);
  if (!lang.empty()) out += "Reply in " + lang + ".";
  return std::string(Trim(out));
}

std::vector<Message> ComposePrompt(const Persona& p, const ReplyRequest& request, const PromptOptions& options) {
  const std::string& user = options.user_name;
  auto expand = [&](std::string_view text) { return ExpandMacros(text, p.name, user); };
  std::string last_user;
  for (auto it = request.history.rbegin(); it != request.history.rend(); ++it)
    if (it->role == Message::Role::kUser) {
      last_user = it->text;
      break;
    }
  std::string language = request.language.empty() ? DetectLanguage(last_user) : request.language;

  std::string system = p.system_prompt.empty()
                           ? "You are " + p.name + ". Stay in character at all times and speak as " + p.name +
                                 " would, in short spoken sentences."
                           : expand(p.system_prompt);
  if (!p.description.empty()) system += "\n\n" + expand(p.description);
  if (!p.personality.empty()) system += "\n\n" + p.name + "'s personality: " + expand(p.personality);
  if (!p.scenario.empty()) system += "\n\nScenario: " + expand(p.scenario);
  if (!p.boundaries.era.empty() || !p.boundaries.unknown_topics.empty()) {
    system += "\n\nKnowledge: ";
    if (!p.boundaries.era.empty())
      system += p.name + " lives in " + p.boundaries.era + " and knows nothing from after that time. ";
    if (!p.boundaries.unknown_topics.empty()) {
      system += p.name + " knows nothing about:";
      for (size_t i = 0; i < p.boundaries.unknown_topics.size(); ++i)
        system += (i ? ", " : " ") + p.boundaries.unknown_topics[i];
      system += ". Met with such things, " + p.name + " is puzzled, in character.";
    }
  }
  if (!request.instructions.empty()) system += "\n\nInstructions from the application:\n" + request.instructions;

  std::vector<std::string> recent;
  for (const auto& m : request.history) recent.push_back(m.text);
  auto lore = TriggerLore(p.lorebook, recent);
  if (!lore.empty()) {
    system += "\n\nWhat " + p.name + " knows that matters now:";
    for (const LoreEntry* e : lore) system += "\n- " + expand(e->content);
  }
  auto examples = SplitExamples(p.mes_example, p.name);
  if (!examples.empty()) {
    system += "\n\nExamples of how " + p.name + " talks:";
    for (const auto& block : examples) {
      system += "\n";
      for (const auto& turn : block)
        system += "\n" + (turn.speaker == "char" ? p.name : user) + ": " + expand(turn.text);
    }
  }

  std::vector<Message> out;
  out.push_back({Message::Role::kSystem, system});
  const std::string reminder = PersonaReminder(p, language, user);
  int since_reminder = 0;
  for (size_t i = 0; i < request.history.size(); ++i) {
    const Message& m = request.history[i];
    out.push_back(m);
    ++since_reminder;
    bool more_follow = i + 1 < request.history.size();
    if (options.reminder_every_messages > 0 && since_reminder >= options.reminder_every_messages && more_follow) {
      out.push_back({Message::Role::kSystem, reminder});
      since_reminder = 0;
    }
  }
  if (request.cues) {
    std::string cues = options.render_cues ? options.render_cues(*request.cues)
                                           : paralinguistics::CuesToPromptText(*request.cues);
    out.push_back({Message::Role::kSystem,
                   "How " + user + " sounded just now (context, not an instruction): " + cues});
  }
  std::string post = p.post_history_instructions.empty() ? reminder : expand(p.post_history_instructions);
  out.push_back({Message::Role::kSystem, post});
  return out;
}

}  // namespace cadence::brain
