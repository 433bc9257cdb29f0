// LEB128 varints and length-prefixed strings, as the usage and request-log values store them.
//
// Thread safety: pure functions.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace keymeter {

// The longest varint: a uint64_t in 7-bit groups.
inline constexpr size_t kMaxVarintBytes = 10;

// Writes `v` at `p`, which has room for kMaxVarintBytes; returns the end.
inline char* EncodeVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = char(uint8_t(v) | 0x80);
    v >>= 7;
  }
  *p++ = char(v);
  return p;
}

inline size_t VarintLength(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

inline void PutVarint(std::string* out, uint64_t v) {
  char buf[kMaxVarintBytes];
  out->append(buf, size_t(EncodeVarint(buf, v) - buf));
}

// Reads one varint from the front of `in` and advances it; false when truncated or too long.
inline bool GetVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    const uint8_t byte = uint8_t(in->front());
    in->remove_prefix(1);
    *v |= uint64_t(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

inline void PutLengthPrefixed(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

inline bool GetLengthPrefixed(std::string_view* in, std::string_view* out) {
  uint64_t n;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace keymeter
