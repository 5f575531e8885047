// Card macros: {{char}} and {{user}} (any letter case, spaces inside the braces allowed), plus the
// legacy <BOT>/<USER> spellings some V1 cards use. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace cadence::persona {

std::string ExpandMacros(std::string_view text, std::string_view char_name, std::string_view user_name);

}  // namespace cadence::persona
