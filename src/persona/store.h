// PersonaStore: the personas a server can play, by id. Always holds the embedded defaults
// ("cadence", English, and "xiaoyu", Mandarin), compiled into the binary from personas/*.json, so
// `cadence serve` works with no files; Load(dir) adds every card in a directory (JSON or PNG; the
// file stem is the id, and a file may replace an embedded persona of the same id).
//
// Build it once at startup, then share it read-only: const methods are thread-safe; Add() is not
// and must not race with readers. Persona pointers stay valid for the store's lifetime (also
// across moves and copies of the store).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "persona/persona.h"

namespace cadence::persona {

class PersonaStore {
 public:
  // Only the embedded defaults.
  static PersonaStore Embedded();
  // Embedded defaults plus the cards in `dir` ("" means none). A missing or unreadable directory
  // is an error naming it; a bad card is skipped with a warning naming the file and the problem.
  static Result<PersonaStore> Load(const std::string& dir);
  // The shipped personas/ directory of the source tree (the default for --personas).
  static std::string DefaultDir();
  // A card from JSON or PNG bytes (session.update inline cards); same as persona::ParseCard.
  static Result<Persona> ParseCard(std::string_view json_or_png_bytes);

  const Persona* Find(std::string_view id) const;
  // "cadence" unless SetDefault chose another.
  const Persona& Default() const;
  // Sorted by id.
  std::vector<const Persona*> List() const;

  // Adds or replaces (same id) a persona. Not thread-safe.
  void Add(Persona persona);
  // Fails with NotFound (listing the ids) when `id` is unknown.
  Status SetDefault(std::string_view id);

 private:
  std::vector<std::shared_ptr<const Persona>> personas_;
  std::string default_id_ = "cadence";
};

// The embedded cards' JSON text (generated at build time from personas/cadence.json and
// personas/xiaoyu.json); exposed for tests.
const std::vector<std::pair<std::string, std::string>>& EmbeddedCards();

}  // namespace cadence::persona
