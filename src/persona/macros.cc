#include "persona/macros.h"

#include "persona/text.h"

namespace cadence::persona {

std::string ExpandMacros(std::string_view text, std::string_view char_name, std::string_view user_name) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "{{") == 0) {
      size_t close = text.find("}}", i + 2);
      if (close != std::string_view::npos) {
        std::string key = AsciiLower(Trim(text.substr(i + 2, close - i - 2)));
        if (key == "char") {
          out += char_name;
          i = close + 2;
          continue;
        }
        if (key == "user") {
          out += user_name;
          i = close + 2;
          continue;
        }
      }
    } else if (text[i] == '<') {
      std::string head = AsciiLower(text.substr(i, 6));
      if (head.starts_with("<bot>")) {
        out += char_name;
        i += 5;
        continue;
      }
      if (head.starts_with("<user>")) {
        out += user_name;
        i += 6;
        continue;
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

}  // namespace cadence::persona
