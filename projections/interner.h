// Interner: small dense ids for the strings of one projector batch (products), so that the
// per-event maps hash a word instead of a string and build no string. (Account ids need none:
// an AccountRef is already one pointer per account.)
//
// Thread safety: not thread-safe.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace keymeter {

class Interner {
 public:
  uint32_t Intern(std::string_view s) {
    // Debian's Abseil has its own string_view: heterogeneous lookup needs it.
    auto it = index_.find(absl::string_view(s.data(), s.size()));
    if (it != index_.end()) return it->second;
    strings_.emplace_back(s);
    index_.emplace(strings_.back(), uint32_t(strings_.size() - 1));
    return uint32_t(strings_.size() - 1);
  }
  const std::string& operator[](uint32_t id) const { return strings_[id]; }
  void Clear() {
    strings_.clear();
    index_.clear();
  }

 private:
  std::vector<std::string> strings_;
  absl::flat_hash_map<std::string, uint32_t> index_;
};

}  // namespace keymeter
