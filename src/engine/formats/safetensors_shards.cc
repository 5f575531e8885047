#include "engine/formats/safetensors_shards.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace cadence::engine {
namespace {

namespace fs = std::filesystem;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::unique_ptr<SafetensorsShards>> SafetensorsShards::Open(const std::string& dir) {
  auto shards = std::unique_ptr<SafetensorsShards>(new SafetensorsShards());
  std::error_code ec;
  std::string index_path, single_path;
  if (fs::is_directory(dir, ec)) {
    const fs::path index = fs::path(dir) / kIndexName, single = fs::path(dir) / kSingleName;
    if (fs::exists(index, ec)) {
      index_path = index.string();
    } else if (fs::exists(single, ec)) {
      single_path = single.string();
    } else {
      return Status::NotFound(dir + ": neither " + kIndexName + " nor " + kSingleName + "; not a safetensors checkpoint folder");
    }
  } else if (EndsWith(dir, ".json")) {
    index_path = dir;
  } else {
    single_path = dir;  // SafetensorsFile::Open names a missing file
  }

  if (!single_path.empty()) {
    auto file = SafetensorsFile::Open(single_path);
    if (!file.ok()) return file.status();
    shards->path_ = single_path;
    for (const auto& [name, tensor] : (*file)->tensors()) shards->tensors_[name] = &tensor;
    shards->shards_.push_back(std::move(file).value());
    return shards;
  }

  shards->path_ = index_path;
  std::ifstream in(index_path, std::ios::binary);
  if (!in) return Status::NotFound(index_path + ": cannot open the shard index");
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  nlohmann::json j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::DataLoss(index_path + ": not a JSON object");
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    return Status::DataLoss(index_path + ": weight_map: missing or not an object of tensor name -> shard file");
  const nlohmann::json& map = j["weight_map"];
  if (map.empty()) return Status::DataLoss(index_path + ": weight_map: empty");
  const fs::path base = fs::path(index_path).parent_path();
  std::map<std::string, SafetensorsFile*> by_shard;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it.value().is_string())
      return Status::DataLoss(index_path + ": weight_map." + it.key() + ": the shard file name is not a string");
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || fs::path(shard).is_absolute() || shard.find("..") != std::string::npos)
      return Status::DataLoss(index_path + ": weight_map." + it.key() + ": shard file name \"" + shard +
                              "\" is not a file beside the index");
    auto found = by_shard.find(shard);
    if (found == by_shard.end()) {
      const std::string shard_path = (base / shard).string();
      if (!fs::exists(shard_path, ec))
        return Status::NotFound(index_path + ": shard " + shard + " (for tensor " + it.key() + ") is missing: " +
                                shard_path + " does not exist");
      auto file = SafetensorsFile::Open(shard_path);
      if (!file.ok()) return file.status().WithContext(index_path + ": shard " + shard);
      shards->shards_.push_back(std::move(file).value());
      found = by_shard.emplace(shard, shards->shards_.back().get()).first;
    }
    const StoredTensor* t = found->second->Find(it.key());
    if (t == nullptr)
      return Status::DataLoss(index_path + ": weight_map puts tensor " + it.key() + " in " + shard + ", but " +
                              found->second->path() + " has no such tensor");
    shards->tensors_[it.key()] = t;
  }
  return shards;
}

const StoredTensor* SafetensorsShards::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsShards::Names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, t] : tensors_) names.push_back(name);
  return names;
}

}  // namespace cadence::engine
