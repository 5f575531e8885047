// `cadence persona import|list|show`: manage the persona directory (Character Card V2/V3 JSON or PNG).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/command.h"
#include "persona/card.h"
#include "persona/macros.h"
#include "persona/png_card.h"
#include "persona/store.h"

namespace {

using cadence::persona::Persona;
using cadence::persona::PersonaStore;

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

int Import(const cadence::cli::Flags& flags, const std::string& dir) {
  if (flags.positional().size() != 2) {
    std::fprintf(stderr, "error: persona import needs one FILE (.json or .png)\n");
    return 2;
  }
  std::filesystem::path file = flags.positional()[1];
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", file.c_str());
    return 1;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string bytes = buf.str();
  auto persona = cadence::persona::ParseCard(bytes, file.string());
  if (!persona.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", file.c_str(), persona.status().message().c_str());
    return 1;
  }
  std::string id = flags.Has("id") ? flags.Get("id") : cadence::persona::Slugify(file.stem().string());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "error: cannot create personas directory %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  bool png = cadence::persona::LooksLikePng(bytes);
  // A PNG stays a PNG (it carries the avatar); a JSON card is written normalised, unknown fields kept.
  std::filesystem::path out = std::filesystem::path(dir) / (id + (png ? ".png" : ".json"));
  for (const char* ext : {".png", ".json"}) {
    std::filesystem::path existing = std::filesystem::path(dir) / (id + ext);
    if (std::filesystem::exists(existing) && !flags.On("force")) {
      std::fprintf(stderr, "error: %s already exists (choose another --id or pass --force)\n", existing.c_str());
      return 1;
    }
    if (std::filesystem::exists(existing)) std::filesystem::remove(existing, ec);
  }
  std::ofstream os(out, std::ios::binary);
  if (png)
    os << bytes;
  else
    os << cadence::persona::ExportCardJson(*persona) << "\n";
  if (!os) {
    std::fprintf(stderr, "error: cannot write %s\n", out.c_str());
    return 1;
  }
  std::printf("imported %s as '%s' (%s) -> %s\n", file.c_str(), id.c_str(), persona->name.c_str(), out.c_str());
  return 0;
}

int RunPersona(int argc, char** argv) {
  cadence::cli::Flags flags(
      "cadence persona import FILE [--id ID] [--force] | list | show ID [--json]  [--personas DIR]");
  flags.String("personas", "DIR", "persona directory", PersonaStore::DefaultDir());
  flags.String("id", "ID", "id for an imported card (default: the file name)");
  flags.Switch("force", "overwrite an existing persona with the same id");
  flags.Switch("json", "show: print the card JSON (as it would be exported)");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.positional().empty()) {
    std::fprintf(stderr, "error: persona needs a subcommand: import, list or show\n\n%s", flags.Help().c_str());
    return 2;
  }
  const std::string& sub = flags.positional()[0];
  const std::string dir = flags.Get("personas");
  if (sub == "import") return Import(flags, dir);
  auto store = PersonaStore::Load(dir);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().message().c_str());
    return 1;
  }
  if (sub == "list") {
    std::printf("%-14s %-22s %-7s %-16s %s\n", "ID", "NAME", "LANG", "VOICE", "SOURCE");
    for (const Persona* p : store->List())
      std::printf("%-14s %-22s %-7s %-16s %s\n", p->id.c_str(), p->name.c_str(), Join(p->languages).c_str(),
                  (p->voice.engine + "/" + p->voice.voice).c_str(), p->source.c_str());
    return 0;
  }
  if (sub == "show") {
    if (flags.positional().size() != 2) {
      std::fprintf(stderr, "error: persona show needs an ID (cadence persona list shows them)\n");
      return 2;
    }
    const Persona* p = store->Find(flags.positional()[1]);
    if (!p) {
      std::fprintf(stderr, "error: no persona '%s' in %s (cadence persona list shows them)\n",
                   flags.positional()[1].c_str(), dir.c_str());
      return 1;
    }
    if (flags.On("json")) {
      std::printf("%s\n", cadence::persona::ExportCardJson(*p).c_str());
      return 0;
    }
    std::printf("id:          %s\nname:        %s\nsource:      %s\nlanguages:   %s\n", p->id.c_str(), p->name.c_str(),
                p->source.c_str(), Join(p->languages).c_str());
    std::printf("voice:       %s/%s pitch %+.1f st, rate %.2f\ntone:        %s (energy %.2f, warmth %.2f)\n",
                p->voice.engine.c_str(), p->voice.voice.c_str(), p->voice.base_pitch_st, p->voice.rate,
                p->tone.emotion.c_str(), p->tone.energy, p->tone.warmth);
    if (!p->boundaries.era.empty() || !p->boundaries.unknown_topics.empty())
      std::printf("boundaries:  era '%s'; unknown: %s\n", p->boundaries.era.c_str(),
                  Join(p->boundaries.unknown_topics).c_str());
    std::printf("facts:       age %s, origin %s\n", p->facts.age.empty() ? "-" : p->facts.age.c_str(),
                p->facts.origin.empty() ? "-" : p->facts.origin.c_str());
    std::printf("greeting:    %s\n", p->first_mes.c_str());
    size_t moods = 0;
    for (const auto& [m, ls] : p->mood_lines) moods += ls.size();
    std::printf("lines:       %zu authored, %zu mood lines, %zu lorebook entries\n", p->lines.size(), moods,
                p->lorebook.entries.size());
    std::printf("description: %s\n", cadence::persona::ExpandMacros(p->description, p->name, "User").c_str());
    return 0;
  }
  std::fprintf(stderr, "error: unknown persona subcommand '%s' (import, list, show)\n", sub.c_str());
  return 2;
}

}  // namespace

CADENCE_COMMAND(persona, "import, list and show personas (Character Card V2/V3 JSON or PNG)", RunPersona);
