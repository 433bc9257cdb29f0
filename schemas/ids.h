// Strong types for keymeter's identifiers, so that a key id, an account id and a digest are
// not interchangeable.
//
// Thread safety: values.

#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/hex.h"

namespace keymeter {

// True for the key alphabet [A-Za-z0-9].
constexpr bool IsKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

constexpr size_t kKeyIdLength = 8;
constexpr size_t kKeyLength = 24;

// The public 8-character id of a key, packed in a uint64 (one byte per character) so that the
// hot-path maps hash and compare one word. The empty id (value 0) means "no key".
class KeyId {
 public:
  constexpr KeyId() = default;

  // Returns the id named by `text`: 8 characters of the key alphabet, or the first 8 of a
  // 24-character key. Anything else is nullopt.
  static std::optional<KeyId> Parse(std::string_view text) {
    if (text.size() != kKeyIdLength && text.size() != kKeyLength) return std::nullopt;
    KeyId id;
    for (size_t i = 0; i < kKeyIdLength; ++i) {
      if (!IsKeyChar(text[i])) return std::nullopt;
      id.packed_ |= uint64_t(uint8_t(text[i])) << (8 * (7 - i));
    }
    return id;
  }

  bool empty() const { return packed_ == 0; }
  uint64_t packed() const { return packed_; }
  std::string str() const {
    std::string s(kKeyIdLength, '\0');
    for (size_t i = 0; i < kKeyIdLength; ++i) s[i] = char(packed_ >> (8 * (7 - i)));
    return empty() ? std::string() : s;
  }

  friend bool operator==(KeyId a, KeyId b) = default;
  friend auto operator<=>(KeyId a, KeyId b) = default;
  template <class H>
  friend H AbslHashValue(H h, KeyId id) {
    return H::combine(std::move(h), id.packed_);
  }

 private:
  uint64_t packed_ = 0;
};

// SHA-256 of a key or token.
using Digest = std::array<uint8_t, 32>;

// Microseconds since the Unix epoch, UTC. Event time, never a clock read inside apply.
using TimeUs = int64_t;

// A request id: 16 bytes, written as 32 hex digits or a UUID (8-4-4-4-12 with dashes).
using RequestIdBytes = std::array<uint8_t, 16>;

// The request id `text` names: 32 hex digits or a UUID, either case; nullopt for anything else.
inline std::optional<RequestIdBytes> ParseRequestId(std::string_view text) {
  char digits[32];
  size_t n = 0;
  if (text.size() == 36) {
    for (size_t i = 0; i < text.size(); ++i) {
      const bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash_here != (text[i] == '-')) return std::nullopt;
      if (!dash_here) digits[n++] = text[i];
    }
  } else if (text.size() == 32) {
    std::memcpy(digits, text.data(), 32);
    n = 32;
  } else {
    return std::nullopt;
  }
  RequestIdBytes id{};
  if (!DecodeHex(std::string_view(digits, n), id)) return std::nullopt;
  return id;
}

// `id` as a UUID, lower case (8-4-4-4-12).
inline std::string RequestIdText(const RequestIdBytes& id) {
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    AppendHex(&out, std::span(&id[i], 1));
  }
  return out;
}

}  // namespace keymeter
