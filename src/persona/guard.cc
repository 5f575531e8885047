#include "persona/guard.h"

#include <cctype>
#include <cstdlib>

#include "core/log.h"
#include "core/utf8.h"
#include "persona/text.h"
#include "speech/tts/style_parser.h"

namespace cadence::persona {

namespace {

// Phrases that only an assistant stepping out of a role says about itself.
constexpr const char* kSelfAsMachine[] = {
    "as an ai", "as a language model", "as an artificial intelligence", "language model", "i'm an ai",
    "i am an ai", "i'm just an ai", "i am just an ai", "ai assistant", "ai model", "i'm a chatbot",
    "i am a chatbot", "i'm just a chatbot", "i'm a bot", "i am a bot", "i'm a computer program",
    "i am a computer program", "i'm just a program", "i am just a program", "i'm a virtual assistant",
    "i am a virtual assistant", "as a virtual assistant", "as an assistant", "i'm an assistant",
    "i am an assistant", "i don't have personal experiences", "i do not have personal experiences",
    "i don't have feelings", "i do not have feelings", "i don't have emotions", "i do not have emotions",
    "i don't have a physical body", "i do not have a physical body", "i don't have a body",
    "i'm not a real person", "i am not a real person", "i'm not a human", "i am not a human",
    "large language model", "llm", "neural network", "作为一个ai", "作为ai", "作为一个人工智能", "作为人工智能",
    "我是ai", "我是一个ai", "我是人工智能", "我是一个人工智能", "人工智能助手", "ai助手", "语言模型", "大模型",
    "聊天机器人", "我是一个程序", "我只是一个程序", "我是程序", "我是机器人", "虚拟助手", "我没有感情",
    "我没有情感", "我没有身体", "我不是真人", "我不是真正的人"};
// Talk about the machinery behind the role; wrong for every persona, machine characters included.
constexpr const char* kMachinery[] = {
    "my training data", "training data", "my programming", "i was programmed", "i am programmed",
    "i'm programmed", "openai", "anthropic", "chatgpt", "system prompt", "my instructions say", "i've been instructed", "i have been instructed", "my prompt",
    "content policy", "usage policies", "usage policy", "my guidelines", "against my guidelines", "token limit",
    "tokens left", "context window", "knowledge cutoff", "i cannot browse", "roleplay", "role-play",
    "role play", "out of character", "(ooc", "ooc:", "[ooc", "stay in character", "as a fictional character",
    "this character", "the persona", "my persona", "提示词", "系统提示", "训练数据", "我被训练", "开发者设定",
    "内容政策", "使用政策", "角色扮演", "我在扮演", "扮演的角色", "出戏", "人设"};

// Things a historical character cannot know, with the year they became known.
struct Invention {
  const char* term;
  int year;
};
constexpr Invention kInventions[] = {
    {"telephone", 1876}, {"phone", 1876}, {"light bulb", 1879}, {"automobile", 1886}, {"motorcar", 1886},
    {"cinema", 1895}, {"movie", 1895}, {"radio", 1895}, {"airplane", 1903}, {"aeroplane", 1903},
    {"plastic", 1907}, {"robot", 1920}, {"television", 1927}, {"tv", 1930}, {"penicillin", 1928},
    {"antibiotic", 1928}, {"computer", 1940}, {"atomic bomb", 1945}, {"nuclear", 1938}, {"dna", 1953},
    {"satellite", 1957}, {"astronaut", 1961}, {"moon landing", 1969}, {"video game", 1970}, {"email", 1971},
    {"e-mail", 1971}, {"mobile phone", 1983}, {"cell phone", 1983}, {"internet", 1983}, {"laptop", 1981},
    {"website", 1991}, {"online", 1991}, {"smartphone", 1994}, {"wifi", 1997}, {"wi-fi", 1997},
    {"google", 1998}, {"facebook", 2004}, {"youtube", 2005}, {"twitter", 2006}, {"iphone", 2007},
    {"bitcoin", 2009}, {"instagram", 2010}, {"tiktok", 2016}, {"covid", 2019}, {"world war", 1914},
    {"电话", 1876}, {"电灯", 1879}, {"汽车", 1886}, {"电影", 1895}, {"无线电", 1895}, {"飞机", 1903},
    {"收音机", 1920}, {"机器人", 1920}, {"电视", 1927}, {"青霉素", 1928}, {"抗生素", 1928}, {"电脑", 1940},
    {"计算机", 1940}, {"原子弹", 1945}, {"卫星", 1957}, {"宇航员", 1961}, {"电子邮件", 1971}, {"手机", 1983},
    {"互联网", 1983}, {"网上", 1991}, {"上网", 1991}, {"网站", 1991}, {"短信", 1992}, {"智能手机", 1994},
    {"微信", 2011}, {"抖音", 2016}, {"火车", 1825}, {"照相机", 1839}, {"相机", 1839}};

// A puzzled character may name the unknown thing without knowing it.
constexpr const char* kPuzzled[] = {
    "never heard", "what is", "what's a", "what's this", "what's that", "what on earth", "what manner of",
    "don't know", "do not know", "no idea", "strange word", "not familiar", "unfamiliar", "you speak of",
    "什么是", "是什么", "不知道", "没听说", "闻所未闻", "不懂", "没见过", "何物", "何为"};

// `lower` is already ASCII-lowercased and every phrase is lowercase, so matching is case-exact
// (lowercasing once per sentence instead of once per phrase keeps the guard cheap).
bool ContainsAny(std::string_view lower, const char* const* phrases, size_t n, std::string* which) {
  for (size_t i = 0; i < n; ++i) {
    if (ContainsPhrase(lower, phrases[i], true, true)) {
      *which = phrases[i];
      return true;
    }
  }
  return false;
}

template <size_t N>
bool ContainsAny(std::string_view text, const char* const (&phrases)[N], std::string* which) {
  return ContainsAny(text, phrases, N, which);
}

bool PlaysAMachine(const Persona& p) {
  std::string about = p.description + " " + p.personality;
  for (const char* w : {"artificial intelligence", "android", "robot", "an ai", "cyborg", "机器人", "人工智能"})
    if (ContainsPhrase(about, w, false, true)) return true;
  return false;
}

bool KnownToPersona(const Persona& p, std::string_view what) {
  std::string card = p.name + " " + p.description + " " + p.scenario + " " + p.facts.origin;
  return ContainsPhrase(card, what, false, false);
}

// Text after the first occurrence of `phrase` (lowercased search), from the original text.
bool After(std::string_view text, std::string_view phrase, std::string_view* rest) {
  std::string lower = AsciiLower(text);
  size_t at = lower.find(AsciiLower(phrase));
  if (at == std::string::npos) return false;
  // Latin phrases must start at a word boundary ("I'm from" but not "aim from").
  if (at > 0 && std::isalnum(static_cast<unsigned char>(lower[at - 1])) &&
      std::isalpha(static_cast<unsigned char>(phrase.front())))
    return false;
  *rest = text.substr(at + phrase.size());
  return true;
}

// Leading capitalised words ("Nova Scotia, where" -> "Nova Scotia"), or leading Han characters up to
// punctuation or a particle.
std::string LeadingName(std::string_view rest) {
  rest = Trim(rest);
  std::u32string cps = DecodeUtf8(rest);
  if (!cps.empty() && IsHan(cps[0])) {
    std::u32string name;
    for (char32_t c : cps) {
      if (!IsHan(c) || c == U'的' || c == U'人' || c == U'长' || c == U'来' || c == U'出') break;
      name.push_back(c);
    }
    return EncodeUtf8(name);
  }
  std::string name;
  size_t i = 0;
  while (i < rest.size()) {
    if (!std::isupper(static_cast<unsigned char>(rest[i]))) break;
    size_t j = i;
    while (j < rest.size() && (std::isalpha(static_cast<unsigned char>(rest[j])) || rest[j] == '-' || rest[j] == '\''))
      ++j;
    if (!name.empty()) name += " ";
    name += std::string(rest.substr(i, j - i));
    i = j;
    if (i < rest.size() && rest[i] == ' ') ++i;
  }
  return name;
}

// First integer in `rest` (Arabic digits or simple Chinese numerals up to 99), or -1.
int LeadingNumber(std::string_view rest) {
  rest = Trim(rest);
  if (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest[0]))) return std::atoi(std::string(rest.substr(0, 3)).c_str());
  std::u32string cps = DecodeUtf8(rest);
  static const std::u32string kDigits = U"零一二三四五六七八九";
  int value = 0;
  int pending = -1;
  bool any = false;
  for (char32_t c : cps) {
    size_t d = kDigits.find(c);
    if (c == U'两') d = 2;
    if (d != std::u32string::npos) {
      pending = static_cast<int>(d);
      any = true;
    } else if (c == U'十') {
      value += (pending < 0 ? 1 : pending) * 10;
      pending = -1;
      any = true;
    } else {
      break;
    }
  }
  if (!any) return -1;
  return value + (pending < 0 ? 0 : pending);
}

}  // namespace

std::string_view ViolationName(Violation v) {
  switch (v) {
    case Violation::kNone: return "none";
    case Violation::kIdentityBreak: return "identity_break";
    case Violation::kKnowledgeBoundary: return "knowledge_boundary";
    case Violation::kFactContradiction: return "fact_contradiction";
    case Violation::kWrongLanguage: return "wrong_language";
  }
  return "unknown";
}

int EraYear(std::string_view era) {
  if (Trim(era).empty()) return 0;
  std::string lower = AsciiLower(era);
  for (size_t i = 0; i < lower.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(lower[i]))) continue;
    size_t j = i;
    while (j < lower.size() && std::isdigit(static_cast<unsigned char>(lower[j]))) ++j;
    if (j - i >= 3 && j - i <= 4) {
      int year = std::atoi(lower.substr(i, j - i).c_str());
      if (j < lower.size() && lower[j] == 's') year += year % 100 == 0 ? 99 : 9;  // "1890s", "1800s"
      if (lower.find("bc") != std::string::npos) year = -year;
      return year;
    }
    i = j;
  }
  struct Named {
    const char* name;
    int year;
  };
  static const Named kEras[] = {
      {"ancient rome", 476}, {"roman", 476}, {"ancient", 500}, {"medieval", 1450}, {"middle ages", 1450},
      {"tudor", 1603}, {"elizabethan", 1603}, {"renaissance", 1600}, {"victorian", 1901}, {"edwardian", 1910},
      {"regency", 1837}, {"tang", 907}, {"song dynasty", 1279}, {"ming", 1644}, {"qing", 1911},
      {"han dynasty", 220}, {"three kingdoms", 280}, {"唐", 907}, {"宋", 1279}, {"明朝", 1644}, {"清朝", 1911},
      {"汉朝", 220}, {"三国", 280}, {"秦", -206}, {"战国", -221}, {"春秋", -476}, {"民国", 1949}};
  for (const auto& e : kEras)
    if (ContainsPhrase(lower, e.name, false, true)) return e.year;
  return 0;
}

GuardVerdict Guard::Evaluate(std::string_view raw_sentence, const GuardContext& ctx) const {
  GuardVerdict v;
  std::string sentence = speech::SpokenText(raw_sentence);
  std::string lower = AsciiLower(sentence);
  std::string which;
  const Persona* p = ctx.persona;

  if (ContainsAny(lower, kMachinery, &which) || ((!p || !PlaysAMachine(*p)) && ContainsAny(lower, kSelfAsMachine, &which))) {
    v.violation = Violation::kIdentityBreak;
    v.detail = which;
    return v;
  }
  if (!p) return v;

  bool puzzled = sentence.find('?') != std::string::npos || sentence.find("？") != std::string::npos ||
                 ContainsAny(lower, kPuzzled, &which);
  if (!puzzled) {
    for (const auto& topic : p->boundaries.unknown_topics) {
      if (ContainsPhrase(sentence, topic, false, true)) {
        v.violation = Violation::kKnowledgeBoundary;
        v.detail = "unknown topic: " + topic;
        return v;
      }
    }
    int era_year = EraYear(p->boundaries.era);
    if (era_year != 0) {
      for (const auto& inv : kInventions) {
        if (inv.year > era_year && ContainsPhrase(lower, inv.term, true, true) && !KnownToPersona(*p, inv.term)) {
          v.violation = Violation::kKnowledgeBoundary;
          v.detail = "era " + p->boundaries.era + ": " + inv.term;
          return v;
        }
      }
    }
  }

  std::string_view rest;
  for (const char* phrase : {"my name is", "my name's", "call me", "i'm called", "i am called", "我叫", "我的名字是",
                             "我的名字叫", "本人名叫"}) {
    if (!After(sentence, phrase, &rest)) continue;
    std::string claimed = LeadingName(rest);
    if (claimed.empty()) continue;
    std::string claimed_lower = AsciiLower(claimed), name_lower = AsciiLower(p->name);
    bool matches = name_lower.find(claimed_lower) != std::string::npos ||
                   claimed_lower.find(name_lower) != std::string::npos ||
                   name_lower.find(AsciiLower(LeadingName(claimed))) != std::string::npos || KnownToPersona(*p, claimed);
    if (!matches) {
      v.violation = Violation::kFactContradiction;
      v.detail = "name: says '" + claimed + "', card says '" + p->name + "'";
      return v;
    }
  }
  if (!p->facts.age.empty()) {
    int age = std::atoi(p->facts.age.c_str());
    for (const char* phrase : {"i am ", "i'm ", "i turned ", "我今年", "我已经", "我才"}) {
      if (!After(sentence, phrase, &rest)) continue;
      int claimed = LeadingNumber(rest);
      if (claimed < 0) continue;
      std::string after_number = AsciiLower(rest);
      bool is_age = after_number.find("year") != std::string::npos || after_number.find("岁") != std::string::npos;
      if (is_age && claimed != age) {
        v.violation = Violation::kFactContradiction;
        v.detail = "age: says " + std::to_string(claimed) + ", card says " + p->facts.age;
        return v;
      }
    }
  }
  if (!p->facts.origin.empty()) {
    for (const char* phrase : {"i'm from", "i am from", "i was born in", "i grew up in", "我来自", "我出生在",
                               "我出生于", "我是在"}) {
      if (!After(sentence, phrase, &rest)) continue;
      std::string claimed = LeadingName(rest);
      if (claimed.empty()) continue;
      if (!KnownToPersona(*p, claimed) && !ContainsPhrase(claimed, p->facts.origin, false, false)) {
        v.violation = Violation::kFactContradiction;
        v.detail = "origin: says '" + claimed + "', card says '" + p->facts.origin + "'";
        return v;
      }
    }
  }

  if (!ctx.language.empty()) {
    std::string lang = DetectLanguage(sentence);
    int letters = 0;
    for (char32_t c : DecodeUtf8(sentence)) letters += IsHan(c) || (c < 0x80 && std::isalpha(static_cast<int>(c)));
    // Interjections ("Ha!", "OK") and names alone are not a language switch.
    if (!lang.empty() && lang != ctx.language && letters >= 6) {
      v.violation = Violation::kWrongLanguage;
      v.detail = "expected " + ctx.language + ", got " + lang;
      return v;
    }
  }
  return v;
}

GuardVerdict Guard::Check(std::string_view sentence, const GuardContext& ctx) const {
  GuardVerdict v = Evaluate(sentence, ctx);
  checked_.fetch_add(1, std::memory_order_relaxed);
  const char* persona_id = ctx.persona ? ctx.persona->id.c_str() : "-";
  switch (v.violation) {
    case Violation::kNone: passed_.fetch_add(1, std::memory_order_relaxed); break;
    case Violation::kIdentityBreak: identity_.fetch_add(1, std::memory_order_relaxed); break;
    case Violation::kKnowledgeBoundary: boundary_.fetch_add(1, std::memory_order_relaxed); break;
    case Violation::kFactContradiction: fact_.fetch_add(1, std::memory_order_relaxed); break;
    case Violation::kWrongLanguage: language_.fetch_add(1, std::memory_order_relaxed); break;
  }
  if (v.ok()) {
    CADENCE_LOG(kDebug, "guard", "pass persona=%s len=%zu", persona_id, sentence.size());
  } else {
    CADENCE_LOG(kInfo, "guard", "flag persona=%s violation=%s detail=\"%s\" sentence=\"%.*s\"", persona_id,
                std::string(ViolationName(v.violation)).c_str(), v.detail.c_str(),
                static_cast<int>(std::min<size_t>(sentence.size(), 160)), sentence.data());
  }
  return v;
}

void Guard::RecordRepair(Repair repair) const {
  (repair == Repair::kRegenerated ? regenerated_ : replaced_).fetch_add(1, std::memory_order_relaxed);
}

GuardCounters Guard::counters() const {
  GuardCounters c;
  c.checked = checked_.load();
  c.passed = passed_.load();
  c.identity_break = identity_.load();
  c.knowledge_boundary = boundary_.load();
  c.fact_contradiction = fact_.load();
  c.wrong_language = language_.load();
  c.regenerated = regenerated_.load();
  c.replaced = replaced_.load();
  return c;
}

}  // namespace cadence::persona
