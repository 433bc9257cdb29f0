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

}  // namespace keymeter
