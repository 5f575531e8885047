#include "persona/lorebook.h"

#include <gtest/gtest.h>

namespace cadence::persona {
namespace {

LoreEntry Entry(std::string name, std::vector<std::string> keys, std::string content, int order = 100) {
  LoreEntry e;
  e.name = std::move(name);
  e.keys = std::move(keys);
  e.content = std::move(content);
  e.insertion_order = order;
  return e;
}

std::vector<std::string> Names(const std::vector<const LoreEntry*>& entries) {
  std::vector<std::string> out;
  for (const auto* e : entries) out.push_back(e->name);
  return out;
}

TEST(LorebookTest, KeysCaseAndWholeWords) {
  Lorebook book;
  book.entries.push_back(Entry("cat", {"cat"}, "A cat."));
  LoreEntry sensitive = Entry("Rome", {"Rome"}, "The city.");
  sensitive.case_sensitive = true;
  book.entries.push_back(sensitive);
  LoreEntry partial = Entry("sub", {"sword"}, "Blades.");
  partial.match_whole_words = false;
  book.entries.push_back(partial);
  book.entries.push_back(Entry("han", {"龙井"}, "Tea."));
  EXPECT_TRUE(TriggerLore(book, {"I love concatenation"}).empty());  // "cat" is not a whole word here
  EXPECT_EQ(Names(TriggerLore(book, {"My CAT is asleep"})), std::vector<std::string>{"cat"});
  EXPECT_TRUE(TriggerLore(book, {"rome was not built in a day"}).empty());
  EXPECT_EQ(Names(TriggerLore(book, {"Rome was not built in a day"})), std::vector<std::string>{"Rome"});
  EXPECT_EQ(Names(TriggerLore(book, {"swordsmith"})), std::vector<std::string>{"sub"});
  EXPECT_EQ(Names(TriggerLore(book, {"来一杯西湖龙井吧"})), std::vector<std::string>{"han"});
}

TEST(LorebookTest, SelectiveNeedsASecondaryKey) {
  Lorebook book;
  LoreEntry e = Entry("jade sword", {"sword"}, "The jade sword.");
  e.selective = true;
  e.secondary_keys = {"jade", "green"};
  book.entries.push_back(e);
  EXPECT_TRUE(TriggerLore(book, {"show me your sword"}).empty());
  EXPECT_EQ(TriggerLore(book, {"the green sword"}).size(), 1u);
}

TEST(LorebookTest, ScanDepthConstantDisabledOrderAndBudget) {
  Lorebook book;
  book.scan_depth = 2;
  book.token_budget = 12;  // about 48 Latin characters
  LoreEntry always = Entry("always", {}, "Always here.", 50);  // 3 tokens
  always.constant = true;
  book.entries.push_back(always);
  book.entries.push_back(Entry("old", {"harbour"}, "Harbour lore.", 10));
  LoreEntry off = Entry("off", {"fog"}, "Fog lore.", 1);
  off.enabled = false;
  book.entries.push_back(off);
  book.entries.push_back(Entry("late", {"fog"}, "Fog rolls in from the sea at night.", 90));  // 9 tokens
  LoreEntry important = Entry("important", {"fog"}, "Fog horn.", 95);  // 3 tokens
  important.priority = 10;
  book.entries.push_back(important);
  // "harbour" is three turns back: beyond the scan depth of 2.
  auto hits = TriggerLore(book, {"the harbour", "hello", "the fog!"});
  // Budget 12: constant (3) first, then priority 10 (3), then "late" (9) no longer fits.
  EXPECT_EQ(Names(hits), (std::vector<std::string>{"always", "important"}));
  book.token_budget = 100;
  EXPECT_EQ(Names(TriggerLore(book, {"the harbour", "the fog!"})),
            (std::vector<std::string>{"old", "always", "late", "important"}));  // insertion order
}

}  // namespace
}  // namespace cadence::persona
