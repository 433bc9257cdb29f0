// Hexadecimal digits: keymeter's one encoder and decoder (request ids, digests in logs and
// checksums, cursors, percent-encoding).
//
// Thread safety: pure functions.

#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace keymeter {

// The value of one hex digit, either case; -1 for anything else.
constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes exactly 2 * out.size() hex digits of `hex` into `out`. False, with `out` partly
// written, when `hex` has another length or a character that is not a hex digit.
constexpr bool DecodeHex(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != 2 * out.size()) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

// Appends the lower-case hex of `bytes` to `out`.
inline void AppendHex(std::string* out, std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (uint8_t b : bytes) {
    out->push_back(kDigits[b >> 4]);
    out->push_back(kDigits[b & 0xF]);
  }
}

inline std::string ToHex(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(2 * bytes.size());
  AppendHex(&out, bytes);
  return out;
}

}  // namespace keymeter
