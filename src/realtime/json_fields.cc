#include "realtime/json_fields.h"

#include <cmath>

#include "core/utf8.h"

namespace cadence::realtime {
namespace {

const char* TypeName(const Json& v) {
  return v.type_name();
}

ProtocolError WrongType(const Json& v, std::string_view path, std::string_view want) {
  return ProtocolError::Invalid("invalid_type",
                                "'" + std::string(path) + "' must be " + std::string(want) + ", got " +
                                    TypeName(v),
                                std::string(path));
}

}  // namespace

std::string Path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string p(parent);
  p += '.';
  p += key;
  return p;
}

ProtocolError GetString(const Json& obj, std::string_view key, std::string_view parent, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) return WrongType(*it, Path(parent, key), "a string");
  *out = it->get<std::string>();
  return {};
}

ProtocolError GetBool(const Json& obj, std::string_view key, std::string_view parent, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_boolean()) return WrongType(*it, Path(parent, key), "a boolean");
  *out = it->get<bool>();
  return {};
}

ProtocolError GetNumber(const Json& obj, std::string_view key, std::string_view parent, double* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_number()) return WrongType(*it, Path(parent, key), "a number");
  const double v = it->get<double>();
  if (!std::isfinite(v)) return WrongType(*it, Path(parent, key), "a finite number");
  *out = v;
  return {};
}

ProtocolError GetInt(const Json& obj, std::string_view key, std::string_view parent, int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
    return {};
  }
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) {
      *out = static_cast<int64_t>(v);
      return {};
    }
  }
  return WrongType(*it, Path(parent, key), "an integer");
}

ProtocolError RequireString(const Json& obj, std::string_view key, std::string_view parent, std::string* out,
                            bool allow_empty) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return ProtocolError::Invalid("missing_required_parameter",
                                  "missing required parameter '" + Path(parent, key) + "'", Path(parent, key));
  }
  if (!it->is_string()) return WrongType(*it, Path(parent, key), "a string");
  *out = it->get<std::string>();
  if (out->empty() && !allow_empty) {
    return ProtocolError::Invalid("invalid_value", "'" + Path(parent, key) + "' must not be empty",
                                  Path(parent, key));
  }
  return {};
}

ProtocolError RequireInt(const Json& obj, std::string_view key, std::string_view parent, int64_t* out) {
  if (obj.find(key) == obj.end() || obj[std::string(key)].is_null()) {
    return ProtocolError::Invalid("missing_required_parameter",
                                  "missing required parameter '" + Path(parent, key) + "'", Path(parent, key));
  }
  return GetInt(obj, key, parent, out);
}

std::string Utf8Prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return std::string(text.substr(0, CompleteUtf8Prefix(text.substr(0, max_bytes)))) + "...";
}

}  // namespace cadence::realtime
