// What the API shows of a key, and how: KeyView is a copy of a key's public fields taken under
// the projector's state mutex (shared), so handlers release the lock before they write JSON or
// read RocksDB. A view never holds a secret, a digest or an admin token.
//
// JSON of a key (WriteKey):
//   {"key_id","label","status","parent": id|null,"root": id,"children": n,
//    "created","updated" (RFC 3339 UTC),
//    "config": {"products": [...], "settings": {...}, "inherited_from": id|null},
//    "allowed_sources": {"ips": [...], "domains": [...]},
//    "rotation_grace_until": time|null,
//    "expires_at": time|null (its own), "effective_expires_at": time|null (the earlier of its
//    own and its parent's: when it stops authorizing),
//    "quota": {"daily_requests","monthly_units"} | null     (root keys; 0 = unlimited)
//    "cap": {"daily_requests","monthly_units"} | null       (children; 0 = no cap)
//    "rate_limits": {"per_second","per_minute","per_hour"}  (0 = none; a root's are its pool's)
//    "credits": {"enabled","balance","refill": {"units","period","rollover"}|null,
//                "next_refill": time|null} | null}          (root keys that ever had credits)
// The member's view (KeyDetail::kMember) leaves out quota, cap, rate limits and credits: members
// never see the pool's quotas (GET /v1/me adds the member's own limits and what remains).
//
// Thread safety: ViewOf() needs the caller to hold the state mutex; the Find/List functions
// take it themselves; the writers are pure.

#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/freshness.h"
#include "http/json.h"
#include "http/server.h"
#include "projections/key_state.h"
#include "projections/usage.h"
#include "schemas/clock.h"

namespace keymeter {

class KeyDirectory;
class Pipeline;

struct KeyView {
  std::string key_id;
  std::string account_id;
  std::string label;
  fb::KeyStatus status = fb::KeyStatus::Pending;
  std::string parent;          // "" for a root key
  std::string root;            // the key whose pool this one draws on (itself for a root)
  std::string inherited_from;  // the parent whose config applies, "" when its own
  KeyConfig config;            // effective
  std::vector<std::string> ips;
  std::vector<std::string> domains;
  uint64_t daily_requests = 0;  // root pool quota
  uint64_t monthly_units = 0;
  uint64_t member_cap = 0;
  uint32_t children = 0;
  TimeUs created_us = 0;
  TimeUs updated_us = 0;
  TimeUs grace_until_us = 0;  // 0 unless an old secret is still valid
  uint64_t member_monthly_units = 0;
  RateLimits rate;
  TimeUs expires_at_us = 0;            // own
  TimeUs effective_expires_at_us = 0;  // own or the parent's, the earlier
  Credits credits;
  int64_t credits_balance = 0;  // as of when the view was taken (refills due counted)
  std::vector<uint8_t> alert_percents;  // alert thresholds (docs/api.md, Alerts)

  bool is_child() const { return !parent.empty(); }
};

// The caller holds the projector's state mutex (shared or exclusive). `now` (wall time) counts
// the credits' refills due.
KeyView ViewOf(const KeyDirectory& directory, const KeyState& key, TimeUs now = NowUs());

// The key named by `id_text` (an 8-character id or a full 24-character key: only its first 8
// characters count) if it exists and belongs to `account_id`; nullopt otherwise (not parsable,
// unknown, or another account's: the caller can't tell which).
std::optional<KeyView> FindAccountKey(Pipeline& pipeline, std::string_view account_id,
                                      std::string_view id_text);
// The key `id` whatever its account; nullopt when unknown.
std::optional<KeyView> FindKeyView(Pipeline& pipeline, KeyId id);
// Every key of `account_id` (deleted ones too), ordered by key id.
std::vector<KeyView> AccountKeys(Pipeline& pipeline, std::string_view account_id);

enum class KeyDetail { kAdmin, kMember };
// `extra`, when set, writes more members before the object closes.
void WriteKey(http::JsonWriter& json, const KeyView& key, KeyDetail detail,
              const std::function<void(http::JsonWriter&)>& extra = {});

// "rate_limits": {"per_second","per_minute","per_hour"} as a member of the object being written.
void WriteRateLimits(http::JsonWriter& json, const RateLimits& rate);
// A pool's credits as an object: {"enabled","balance","refill","next_refill"}.
void WriteCredits(http::JsonWriter& json, const Credits& credits, int64_t balance);

// How fresh an answer is (engine/freshness.h): X-Keymeter-Watermark (RFC 3339 with
// microseconds; absent before the partition's first request event) and X-Keymeter-Lag
// (messages); and as JSON, {"partition": n|null, "watermark": time|null, "lag_messages": n}.
void SetFreshnessHeaders(const Freshness& freshness, http::Response& response);
void WriteFreshness(http::JsonWriter& json, const Freshness& freshness);

// The counters as members of the object being written: "requests","units","errors_4xx",
// "errors_5xx","bytes_in","bytes_out".
void WriteCounterFields(http::JsonWriter& json, const Counters& counters);

// "system", "operator", "account_admin", "member".
std::string_view ActorKindName(fb::ActorKind kind);

}  // namespace keymeter
