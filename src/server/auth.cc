#include "server/auth.h"

#include <openssl/crypto.h>

#include <fstream>

#include "core/base64.h"

namespace cadence::server {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Result<ApiKeys> ApiKeys::Load(const std::string& keys_file, std::string_view env_value) {
  ApiKeys keys;
  if (!keys_file.empty()) {
    std::ifstream in(keys_file);
    if (!in) return Status::NotFound("cannot read keys file '" + keys_file + "': check the --keys path");
    std::string line;
    int line_number = 0;
    size_t before = keys.keys_.size();
    while (std::getline(in, line)) {
      ++line_number;
      std::string_view key = Trim(line);
      if (key.empty() || key.front() == '#') continue;
      for (char c : key) {
        if (IsSpace(c) || static_cast<unsigned char>(c) < 0x21 || c == ',') {
          return Status::InvalidArgument("keys file '" + keys_file + "' line " + std::to_string(line_number) +
                                         ": a key may not contain spaces, commas or control characters "
                                         "(one key per line)");
        }
      }
      keys.keys_.emplace_back(key);
    }
    if (keys.keys_.size() == before)
      return Status::InvalidArgument("keys file '" + keys_file + "' holds no key (one key per line, # comments)");
  }
  std::string_view rest = env_value;
  while (!rest.empty()) {
    size_t end = 0;
    while (end < rest.size() && rest[end] != ',' && !IsSpace(rest[end])) ++end;
    std::string_view key = rest.substr(0, end);
    if (!key.empty()) keys.keys_.emplace_back(key);
    rest.remove_prefix(end < rest.size() ? end + 1 : end);
  }
  return keys;
}

ApiKeys ApiKeys::FromList(std::vector<std::string> list) {
  ApiKeys keys;
  keys.keys_ = std::move(list);
  return keys;
}

bool ApiKeys::Contains(std::string_view key) const {
  if (key.empty()) return false;
  bool found = false;
  for (const auto& k : keys_) {
    // Length is not secret enough to hide; the bytes are compared in constant time.
    if (k.size() == key.size() && CRYPTO_memcmp(k.data(), key.data(), k.size()) == 0) found = true;
  }
  return found;
}

std::string_view BearerToken(std::string_view header) {
  header = Trim(header);
  if (header.size() < 7 || !EqualsIgnoreCase(header.substr(0, 7), "bearer ")) return {};
  return Trim(header.substr(7));
}

std::vector<std::string> ParseSubprotocols(std::string_view header) {
  std::vector<std::string> out;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view item = Trim(header.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return out;
}

Handshake ReadHandshake(std::string_view authorization, std::string_view openai_beta,
                        std::string_view subprotocols) {
  Handshake h;
  h.api_key = std::string(BearerToken(authorization));
  if (Trim(openai_beta).find("realtime=v1") != std::string_view::npos) h.beta = true;
  const std::vector<std::string> offered = ParseSubprotocols(subprotocols);
  std::string first_other, key_protocol;
  bool offers_realtime = false, offers_beta = false;
  for (const auto& p : offered) {
    if (p.rfind(kKeySubprotocolPrefix, 0) == 0) {
      if (key_protocol.empty()) key_protocol = p;
      if (h.api_key.empty()) h.api_key = p.substr(kKeySubprotocolPrefix.size());
    } else if (p == kRealtimeSubprotocol) {
      offers_realtime = true;
    } else if (p == kBetaSubprotocol) {
      offers_beta = true;
      h.beta = true;
    } else if (first_other.empty()) {
      first_other = p;
    }
  }
  if (offers_realtime) h.answer_protocol = std::string(kRealtimeSubprotocol);
  else if (offers_beta) h.answer_protocol = std::string(kBetaSubprotocol);
  else if (!first_other.empty()) h.answer_protocol = first_other;
  else h.answer_protocol = key_protocol;  // only a key offered: echoing it is the one valid answer
  return h;
}

std::string RedactedProtocol(std::string_view protocol) {
  if (protocol.rfind(kKeySubprotocolPrefix, 0) == 0) return std::string(kKeySubprotocolPrefix) + "***";
  return std::string(protocol);
}

bool IsValidWebSocketKey(std::string_view key) {
  key = Trim(key);
  if (key.size() != 24) return false;
  std::vector<uint8_t> bytes;
  return Base64Decode(key, &bytes).ok() && bytes.size() == 16;
}

bool IsOriginAllowed(std::string_view origin, std::string_view host_header, const std::vector<std::string>& allowed) {
  origin = Trim(origin);
  if (origin.empty()) return true;
  for (const auto& a : allowed) {
    if (a == "*" || EqualsIgnoreCase(a, origin)) return true;
  }
  std::string_view rest;
  if (origin.rfind("http://", 0) == 0) {
    rest = origin.substr(7);
  } else if (origin.rfind("https://", 0) == 0) {
    rest = origin.substr(8);
  } else {
    return false;
  }
  const std::string_view host = Trim(host_header);
  return !host.empty() && EqualsIgnoreCase(rest, host);
}

}  // namespace cadence::server
