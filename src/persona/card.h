// Character Card import/export: V1 (flat JSON), V2 (`chara_card_v2`), V3 (`chara_card_v3`), as JSON
// text or as PNG bytes (see png_card.h), into a Persona; `extensions.cadence` fills the voice
// binding, tone, languages, boundaries, facts and authored lines.
//
// Pure functions; thread-safe. Errors are InvalidArgument naming the JSON field at fault
// ("card field data.character_book.entries[2].keys: expected an array of strings").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "persona/persona.h"

namespace cadence::persona {

// JSON or PNG bytes (detected by the PNG signature). `source` is recorded in Persona::source.
// The id is extensions.cadence.id, else a slug of the name.
Result<Persona> ParseCard(std::string_view json_or_png_bytes, std::string_view source = "inline");
Result<Persona> ParseCardJson(std::string_view json_text, std::string_view source = "inline");

// The persona as a card JSON document. Starts from the imported card (so unknown fields and
// unknown `extensions` survive), overwrites the fields Cadence knows, and keeps the imported
// spec ("chara_card_v2" stays V2); a persona built in code exports as `chara_card_v3`.
std::string ExportCardJson(const Persona& persona, int indent = 2);

// "Captain Mercer" -> "captain-mercer"; names without ASCII letters get "card-" plus a hash.
std::string Slugify(std::string_view name);

// mes_example split at <START> into blocks, each a list of (speaker, text) turns where speaker is
// "char" or "user" ({{char}}:/{{user}}: prefixes, macros not yet expanded); text outside a speaker
// prefix continues the previous turn.
struct ExampleTurn {
  std::string speaker;  // "char" | "user"
  std::string text;
};
std::vector<std::vector<ExampleTurn>> SplitExamples(std::string_view mes_example, std::string_view char_name);

}  // namespace cadence::persona
