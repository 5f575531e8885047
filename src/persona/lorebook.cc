#include "persona/lorebook.h"

#include <algorithm>

#include "persona/text.h"

namespace cadence::persona {

namespace {

bool AnyKeyMatches(const std::vector<std::string>& keys, const std::string& scan, const LoreEntry& e) {
  for (const auto& key : keys) {
    std::string_view k = Trim(key);
    if (!k.empty() && ContainsPhrase(scan, k, e.case_sensitive, e.match_whole_words)) return true;
  }
  return false;
}

}  // namespace

std::vector<const LoreEntry*> TriggerLore(const Lorebook& book, const std::vector<std::string>& recent_texts) {
  std::string scan;
  size_t depth = static_cast<size_t>(std::max(1, book.scan_depth));
  size_t first = recent_texts.size() > depth ? recent_texts.size() - depth : 0;
  for (size_t i = first; i < recent_texts.size(); ++i) {
    scan += recent_texts[i];
    scan += "\n";
  }
  std::vector<const LoreEntry*> hits;
  for (const auto& e : book.entries) {
    if (!e.enabled) continue;
    if (e.constant) {
      hits.push_back(&e);
      continue;
    }
    if (!AnyKeyMatches(e.keys, scan, e)) continue;
    if (e.selective && !e.secondary_keys.empty() && !AnyKeyMatches(e.secondary_keys, scan, e)) continue;
    hits.push_back(&e);
  }
  std::vector<const LoreEntry*> by_rank = hits;
  std::stable_sort(by_rank.begin(), by_rank.end(), [](const LoreEntry* a, const LoreEntry* b) {
    if (a->constant != b->constant) return a->constant;
    if (a->priority != b->priority) return a->priority > b->priority;
    return a->insertion_order < b->insertion_order;
  });
  std::vector<const LoreEntry*> kept;
  int used = 0;
  for (const LoreEntry* e : by_rank) {
    int cost = EstimateTokens(e->content);
    if (used + cost > book.token_budget) continue;  // a smaller later entry may still fit
    used += cost;
    kept.push_back(e);
  }
  std::stable_sort(kept.begin(), kept.end(),
                   [](const LoreEntry* a, const LoreEntry* b) { return a->insertion_order < b->insertion_order; });
  return kept;
}

}  // namespace cadence::persona
