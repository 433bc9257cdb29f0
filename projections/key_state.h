// In-memory state of accounts and keys: what the key directory keeps and `authorize` reads.
//
// Thread safety: plain values; the KeyDirectory that owns them states the rules.

#pragma once

#include <string>
#include <utility>
#include <vector>

#include "projections/allowed_sources.h"
#include "schemas/events_generated.h"
#include "schemas/ids.h"

namespace keymeter {

// Products a key may call and free-form settings. An empty product list allows every product.
struct KeyConfig {
  std::vector<std::string> products;
  std::vector<std::pair<std::string, std::string>> settings;  // sorted by name

  bool AllowsProduct(std::string_view product) const;
  friend bool operator==(const KeyConfig&, const KeyConfig&) = default;
};

struct AccountState {
  std::string account_id;
  std::string name;
  Digest admin_token_hash{};
  bool require_confirmation = false;
  TimeUs created_us = 0;
  TimeUs updated_us = 0;
  uint64_t next_audit_seq = 0;

  friend bool operator==(const AccountState&, const AccountState&) = default;
};

struct KeyState {
  KeyId id;
  std::string account_id;
  Digest secret_hash{};
  bool has_old_secret = false;
  Digest old_secret_hash{};
  TimeUs grace_until_us = 0;  // old_secret_hash authorizes while event time < this
  std::string label;
  fb::KeyStatus status = fb::KeyStatus::Pending;
  KeyId parent;  // empty for a root key
  std::vector<std::string> ips;
  std::vector<std::string> domains;
  AllowedSources sources;  // parsed `ips`
  KeyConfig config;        // own config; a child's is hidden by its parent's while linked
  uint64_t daily_requests = 0;  // root pool quota, 0 = unlimited
  uint64_t monthly_units = 0;   // root pool quota, 0 = unlimited
  uint64_t member_cap = 0;      // child's daily cap inside the pool, 0 = none
  TimeUs created_us = 0;
  TimeUs updated_us = 0;
  uint32_t children = 0;  // derived: live keys whose parent is this one
  // A deleted child leaves the hierarchy; its late requests still count to this pool.
  KeyId root_at_delete;

  bool is_child() const { return !parent.empty(); }
  bool operator==(const KeyState& o) const;
};

}  // namespace keymeter
