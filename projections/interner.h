// Interner: small dense ids for the strings of one projector batch (products; AccountInterner for
// account ids), so that the per-event maps hash a word instead of a string and build no string.
//
// Thread safety: not thread-safe.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "projections/account_ref.h"

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

// Dense ids for account ids within one batch. Equal AccountRefs are one pointer for the life of
// the process, so a lookup hashes that pointer and compares no bytes.
class AccountInterner {
 public:
  uint32_t Intern(const AccountRef& account) {
    auto [it, inserted] = index_.try_emplace(&account.str(), uint32_t(accounts_.size()));
    if (inserted) accounts_.push_back(account);
    return it->second;
  }
  const std::string& operator[](uint32_t id) const { return accounts_[id].str(); }
  void Clear() {
    accounts_.clear();
    index_.clear();
  }

 private:
  std::vector<AccountRef> accounts_;
  absl::flat_hash_map<const std::string*, uint32_t> index_;
};

}  // namespace keymeter
