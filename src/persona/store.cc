#include "persona/store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/log.h"
#include "persona/card.h"

namespace cadence::persona {

namespace {

constexpr uintmax_t kMaxCardBytes = 32u << 20;

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code ec;
  uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::NotFound(path.string() + ": " + ec.message());
  if (size > kMaxCardBytes)
    return Status::InvalidArgument(path.string() + ": " + std::to_string(size) + " bytes, larger than the 32 MiB card limit");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path.string() + ": cannot open for reading");
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

PersonaStore PersonaStore::Embedded() {
  PersonaStore store;
  for (const auto& [id, json] : EmbeddedCards()) {
    auto persona = ParseCardJson(json, "embedded");
    if (!persona.ok()) {
      // A broken embedded card is a build defect; say so loudly but keep serving the others.
      CADENCE_LOG(kError, "persona", "embedded card %s is invalid: %s", id.c_str(),
                  persona.status().ToString().c_str());
      continue;
    }
    persona->id = id;
    store.Add(std::move(persona).value());
  }
  if (store.personas_.empty()) {
    Persona fallback;
    fallback.id = "cadence";
    fallback.name = "Cadence";
    fallback.first_mes = "Hello there. I'm Cadence. What's on your mind?";
    fallback.languages = {"en"};
    store.Add(std::move(fallback));
  }
  return store;
}

std::string PersonaStore::DefaultDir() {
#ifdef CADENCE_SOURCE_DIR
  return std::string(CADENCE_SOURCE_DIR) + "/personas";
#else
  return "personas";
#endif
}

Result<PersonaStore> PersonaStore::Load(const std::string& dir) {
  PersonaStore store = Embedded();
  if (dir.empty()) return store;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return Status::NotFound("personas directory " + dir + " does not exist or is not a directory (--personas DIR)");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".json" || ext == ".png")) files.push_back(entry.path());
  }
  if (ec) return Status::Unavailable("personas directory " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<std::string> loaded_ids;
  for (const auto& path : files) {
    auto bytes = ReadFile(path);
    if (!bytes.ok()) {
      CADENCE_LOG(kWarn, "persona", "skipping %s: %s", path.string().c_str(), bytes.status().message().c_str());
      continue;
    }
    auto persona = persona::ParseCard(*bytes, path.string());
    if (!persona.ok()) {
      CADENCE_LOG(kWarn, "persona", "skipping %s: %s", path.string().c_str(), persona.status().message().c_str());
      continue;
    }
    std::string id = path.stem().string();
    if (std::find(loaded_ids.begin(), loaded_ids.end(), id) != loaded_ids.end()) {
      CADENCE_LOG(kWarn, "persona", "skipping %s: id '%s' already loaded from another file in %s",
                  path.string().c_str(), id.c_str(), dir.c_str());
      continue;
    }
    persona->id = id;
    loaded_ids.push_back(id);
    store.Add(std::move(persona).value());
  }
  CADENCE_LOG(kInfo, "persona", "loaded %zu persona card(s) from %s (%zu personas in all)", loaded_ids.size(),
              dir.c_str(), store.personas_.size());
  return store;
}

Result<Persona> PersonaStore::ParseCard(std::string_view json_or_png_bytes) {
  return persona::ParseCard(json_or_png_bytes, "inline");
}

const Persona* PersonaStore::Find(std::string_view id) const {
  for (const auto& p : personas_)
    if (p->id == id) return p.get();
  return nullptr;
}

const Persona& PersonaStore::Default() const {
  if (const Persona* p = Find(default_id_)) return *p;
  return *personas_.front();  // never empty: Embedded() guarantees one
}

std::vector<const Persona*> PersonaStore::List() const {
  std::vector<const Persona*> out;
  for (const auto& p : personas_) out.push_back(p.get());
  std::sort(out.begin(), out.end(), [](const Persona* a, const Persona* b) { return a->id < b->id; });
  return out;
}

void PersonaStore::Add(Persona persona) {
  auto shared = std::make_shared<const Persona>(std::move(persona));
  for (auto& p : personas_) {
    if (p->id == shared->id) {
      p = std::move(shared);
      return;
    }
  }
  personas_.push_back(std::move(shared));
}

Status PersonaStore::SetDefault(std::string_view id) {
  if (!Find(id)) {
    std::string ids;
    for (const Persona* p : List()) ids += (ids.empty() ? "" : ", ") + p->id;
    return Status::NotFound("persona '" + std::string(id) + "' is not in the store (have: " + ids + ")");
  }
  default_id_ = std::string(id);
  return Status::Ok();
}

}  // namespace cadence::persona
