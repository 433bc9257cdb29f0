// In-memory state of accounts and keys: what the key directory keeps and `authorize` reads.
//
// Thread safety: plain values; the KeyDirectory that owns them states the rules.

#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "projections/account_ref.h"
#include "projections/allowed_sources.h"
#include "projections/limits.h"
#include "projections/small_string.h"
#include "projections/webhooks.h"
#include "schemas/envelope_builder.h"
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

// A unique_ptr that copies what it points to, so that a record holding it copies as a value;
// empty compares equal to a default T (what a record without its extras holds).
template <typename T>
struct CopiedPtr {
  CopiedPtr() = default;
  CopiedPtr(const CopiedPtr& o) { *this = o; }
  CopiedPtr& operator=(const CopiedPtr& o) {
    if (this != &o) p = o.p != nullptr ? std::make_unique<T>(*o.p) : nullptr;
    return *this;
  }
  CopiedPtr(CopiedPtr&&) noexcept = default;
  CopiedPtr& operator=(CopiedPtr&&) noexcept = default;

  // What it points to, or a default T.
  const T& get() const { return p != nullptr ? *p : kEmpty; }
  // What it points to, made first when empty.
  T& mutable_get() {
    if (p == nullptr) p = std::make_unique<T>();
    return *p;
  }
  friend bool operator==(const CopiedPtr& a, const CopiedPtr& b) { return a.get() == b.get(); }

  std::unique_ptr<T> p;
  static inline const T kEmpty{};
};

// What few accounts have, behind one pointer (an account's record sits in a flat map's slot:
// bench/README.md, memory).
struct AccountExtras {
  // Months corrected after they closed (UsageAdjusted): (month start, version), ascending.
  std::vector<std::pair<TimeUs, uint64_t>> adjusted_months;
  // Its webhook endpoints (column family "webhooks", not the account's record), by id.
  std::vector<WebhookState> webhooks;

  friend bool operator==(const AccountExtras&, const AccountExtras&) = default;
};

struct AccountState {
  AccountRef account_id;
  SmallString name;
  Digest admin_token_hash{};
  bool require_confirmation = false;
  TimeUs created_us = 0;
  TimeUs updated_us = 0;
  uint64_t next_audit_seq = 0;
  bool admin_token_revoked = false;  // no admin token authenticates (AdminTokenSet, revoked)
  bool suspended = false;            // authorizes nothing, refuses all but operator ops
  CopiedPtr<AccountExtras> extras;  // empty for most accounts

  const std::vector<std::pair<TimeUs, uint64_t>>& adjusted_months() const {
    return extras.get().adjusted_months;
  }
  const std::vector<WebhookState>& webhooks() const { return extras.get().webhooks; }

  // The version of the month starting at `month_start`: its corrections so far (0: none).
  uint64_t MonthVersion(TimeUs month_start) const {
    for (const auto& [month, version] : adjusted_months()) {
      if (month == month_start) return version;
    }
    return 0;
  }

  friend bool operator==(const AccountState&, const AccountState&) = default;
};

// A gateway credential (DESIGN §3): who may post request events.
struct GatewayState {
  std::string gateway_id;
  std::string name;
  Digest token_hash{};
  TimeUs created_us = 0;
  TimeUs revoked_us = 0;  // 0 while valid

  bool revoked() const { return revoked_us != 0; }
  friend bool operator==(const GatewayState&, const GatewayState&) = default;
};

// A count of one UTC day or month, for alert thresholds.
struct AlertWindow {
  TimeUs start = 0;
  uint64_t count = 0;
  friend bool operator==(const AlertWindow&, const AlertWindow&) = default;
};

// The credits a root key's thresholds watch: units spent since the window opened (the thresholds
// were set, the credits topped up or reconfigured, or refilled), of the balance it opened with.
struct CreditsWindow {
  TimeUs start = 0;  // 0: not watched
  int64_t opening = 0;
  uint64_t spent = 0;
  friend bool operator==(const CreditsWindow&, const CreditsWindow&) = default;
};

// What few keys have, held apart from the KeyState so that a plain key pays one pointer for it
// (bench/README.md, memory): allowed sources, an own config, the old secret during a rotation's
// grace period, the pool a deleted child still counts to, and the limits beyond the quota (rate
// limits, a child's monthly cap, expiry, a root's credits).
struct KeyExtras {
  std::vector<std::string> ips;
  std::vector<std::string> domains;
  AllowedSources sources;  // parsed `ips`
  KeyConfig config;        // own config; a child's is hidden by its parent's while linked
  bool has_old_secret = false;
  Digest old_secret_hash{};
  TimeUs grace_until_us = 0;  // old_secret_hash authorizes while event time < this
  // A deleted child leaves the hierarchy; its late requests still count to this pool.
  KeyId root_at_delete;
  // Requests per second, minute, hour: a root key's limit its pool's, a child's its own.
  RateLimits rate;
  uint64_t member_monthly_units = 0;  // a child's monthly unit cap inside the pool, 0 = none
  TimeUs expires_at_us = 0;           // own expiry (event time), 0 = never
  Credits credits;                    // a root key's prepaid units
  // Alert thresholds: percents of a root key's pool limits or of a child's member caps, and
  // what they count since they were set (projections/alerts.h).
  std::vector<uint8_t> alert_percents;
  AlertWindow alert_day;    // requests of the latest UTC day
  AlertWindow alert_month;  // units of the latest UTC month
  CreditsWindow alert_credits;  // a root key's credits, while they are on

  // True when every field has its default: the key needs no extras.
  bool empty() const;
  // Compares all but `sources`, which follows from `ips`.
  bool operator==(const KeyExtras& o) const;
};

// One key, as the directory keeps it in memory (128 bytes without extras).
struct KeyState {
  KeyId id;
  AccountRef account_id;  // interned: 8 bytes
  Digest secret_hash{};
  SmallString label;            // 16 bytes
  KeyId parent;                 // empty for a root key
  uint64_t daily_requests = 0;  // root pool quota, 0 = unlimited
  uint64_t monthly_units = 0;   // root pool quota, 0 = unlimited
  uint64_t member_cap = 0;      // child's daily cap inside the pool, 0 = none
  TimeUs created_us = 0;
  TimeUs updated_us = 0;
  uint32_t children = 0;  // derived: live keys whose parent is this one
  fb::KeyStatus status = fb::KeyStatus::Pending;

  bool is_child() const { return !parent.empty(); }
  // The extras, or empty ones when the key has none.
  const KeyExtras& extras() const { return extras_.get(); }
  bool has_extras() const { return extras_.p != nullptr; }
  // The extras to change, made when the key has none.
  KeyExtras& mutable_extras();
  // Frees the extras when they hold nothing but defaults.
  void DropEmptyExtras();
  bool operator==(const KeyState& o) const;

 private:
  CopiedPtr<KeyExtras> extras_;
};

}  // namespace keymeter
