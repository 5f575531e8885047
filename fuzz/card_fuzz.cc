// Fuzzes character cards as a client or a personas folder supplies them: ParseCard (JSON or PNG,
// the session.update inline-card path), then what a session does with a loaded card: macro
// expansion of its texts, lorebook triggering on a sample of conversation and the out-of-character
// guard on its own lines. Also PNG extraction
// and re-embedding on the raw bytes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persona/card.h"
#include "persona/guard.h"
#include "persona/lorebook.h"
#include "persona/macros.h"
#include "persona/png_card.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace persona = cadence::persona;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (persona::LooksLikePng(bytes)) {
    auto json = persona::ExtractCardJsonFromPng(bytes);
    (void)persona::EmbedCardJsonInPng(bytes, json.ok() ? *json : std::string("{}"), /*also_v2=*/true);
  }
  auto card = persona::ParseCard(bytes, "fuzz");
  if (!card.ok()) return 0;
  (void)persona::ExpandMacros(card->description, card->name, "User");
  (void)persona::ExpandMacros(card->first_mes, card->name, "User");
  const std::vector<std::string> recent = {card->first_mes, "hello there, tell me about the castle",
                                           card->name + " what year is it?"};
  (void)persona::TriggerLore(card->lorebook, recent);
  persona::Guard guard;
  const persona::GuardContext context{.persona = &*card, .language = "en"};
  for (const std::string& line : card->lines) (void)guard.Check(line, context);
  (void)guard.Check("As an AI language model, I watched television in 1999.", context);
  return 0;
}
