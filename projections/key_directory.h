// The key directory: accounts and keys, projected from lifecycle ops in log order.
//
// Apply() decides every op by DESIGN §1's rules and returns its outcome — OK or a stable code
// (seed 001's codes for the hierarchy, the same style for the rest). It never reads a clock or
// a random source: the same ops give the same state and the same records, byte for byte. Every
// op that names an existing account, accepted or rejected, leaves one audit entry.
//
// Every change is written to the caller's WriteBatch (column families "accounts", "keys",
// "audit", "gateways"); the in-memory maps change at once, so the caller commits the batch before it
// exposes its effects (the projector does) or drops the directory if the commit fails.
//
// Thread safety: not thread-safe. The engine serializes Apply() against readers (the projector
// holds the writer side of a shared mutex; authorize readers take the shared side).

#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "projections/alerts.h"
#include "projections/column_families.h"
#include "projections/key_state.h"
#include "schemas/status.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

// The e-mail address a key's label is, normalized (trimmed, ASCII lowercase), or "" when the
// label is not one: "local@domain" without blanks, a dot inside the domain. Labels that are
// e-mail addresses are unique among an account's keys that are not deleted (DUPLICATE-MEMBER;
// seed 000); others ("Production") are free.
std::string MemberEmail(std::string_view label);

class KeyDirectory {
 public:
  explicit KeyDirectory(const CfHandles& cfs) : cfs_(cfs) {}
  KeyDirectory(const KeyDirectory&) = delete;
  KeyDirectory& operator=(const KeyDirectory&) = delete;

  // Replaces the in-memory state with what `db` holds. Error on a record that does not decode.
  Status Load(rocksdb::DB* db);

  // Applies one lifecycle op (any Op but RequestEvent) at the envelope's event time.
  // Returns the outcome; state and audit changes go into `batch`.
  // `same_log(account)`: true when `account` is on the envelope's partition. A key of another
  // account that is not is treated as missing (NO-SUCH-API-KEY, not NOT-OWN), so that a
  // partition's projection is a function of its own log whoever else the store holds (a
  // cluster member's store holds only some partitions). Unset: every account is.
  // `closed_before`: months that end at or before it are closed in the envelope's partition
  // (its watermark less the allowed lateness): UsageAdjusted may correct only those.
  Status Apply(const fb::Envelope& envelope, rocksdb::WriteBatch* batch,
               const std::function<bool(std::string_view account)>& same_log = {},
               TimeUs closed_before = INT64_MIN);

  const AccountState* FindAccount(std::string_view account_id) const;
  // Forgets account `account_id` and its keys (for "_gateways", the gateways), as a store that
  // never held them would load (a cluster member dropping a partition, engine/partition_drop.h);
  // returns the ids of the keys it forgot. Keys of other accounts are untouched: a key's parent
  // is always of its own account.
  std::vector<KeyId> DropAccount(std::string_view account_id);
  const KeyState* FindKey(KeyId id) const;
  // Starts loading the hash-table slot FindKey(id) will read (the projector's prefetch pass).
  void Prefetch(KeyId id) const { keys_.prefetch(id); }
  // A gateway credential, revoked or not; nullptr if there is none.
  const GatewayState* FindGateway(std::string_view gateway_id) const;
  // Gateways ordered by id, revoked ones included.
  std::vector<const GatewayState*> Gateways() const;
  // Moves on whenever a credential the directory holds appears or changes (an account is
  // created, its admin token replaced or revoked, a gateway created or revoked): a cache of
  // token digests is stale when the version it was built at differs.
  uint64_t credentials_version() const { return credentials_version_; }

  // The config that applies to `key`: its parent's while it has one, else its own.
  const KeyConfig& EffectiveConfig(const KeyState& key) const;
  // The key whose pool `key` draws on: its parent, or itself.
  KeyId RootOf(const KeyState& key) const {
    if (const KeyId root = key.extras().root_at_delete; !root.empty()) return root;
    return key.is_child() ? key.parent : key.id;
  }

  // The expiry that applies to `key` (event or wall time): the earlier of its own and its
  // parent's; 0 = never. No lookup until a key has had an expiry (apply and authorize call it
  // for every request).
  TimeUs ExpiresAt(const KeyState& key) const;

  // True once a key has had rate limits (credits): the projector looks a pool's limits up only
  // then, so that a store without them pays nothing per event.
  bool any_rate_limits() const { return any_rate_limits_; }
  bool any_credits() const { return any_credits_; }
  // A request of pool `root` at event time `t` spends `units` of its credits (the refills due
  // by `t` first); false, and nothing changes, when the pool has no credits on. The key is
  // written by the next PutSpentCredits().
  bool SpendCredits(KeyId root, TimeUs t, uint32_t units);
  // Puts the keys whose credits requests spent (or whose alert windows they moved) since the
  // last call into `batch`.
  void PutSpentCredits(rocksdb::WriteBatch* batch);

  // True once a key has had alert thresholds.
  bool any_alerts() const { return any_alerts_; }
  // A request of `key` (pool `root`) at event time `t` counts for the alert thresholds of its
  // pool and, for a child, its own (projections/alerts.h); appends the alerts it raises. The
  // keys are written by the next PutSpentCredits().
  void CountForAlerts(KeyId key, KeyId root, TimeUs t, uint32_t units, std::vector<Alert>* out);

  // Keys of an account, ordered by key id. Deleted keys included.
  std::vector<const KeyState*> KeysOf(std::string_view account_id) const;
  void ForEachKey(const std::function<void(const KeyState&)>& fn) const;
  void ForEachAccount(const std::function<void(const AccountState&)>& fn) const;

  size_t key_count() const { return keys_.size(); }
  size_t account_count() const { return accounts_.size(); }

 private:
  // The ops of key_ops*.cc reach the maps below only through it (key_ops_internal.h).
  friend class KeyDirectoryInternal;

  CfHandles cfs_;
  absl::flat_hash_map<AccountRef, AccountState, AccountRefHash, AccountRefEq> accounts_;
  // Nodes, not slots: a flat map's empty slots (its load factor is 0.44-0.875) would cost a
  // 128-byte KeyState again per key (bench/README.md, memory). Pointers to a KeyState also stay
  // valid as keys are added.
  absl::node_hash_map<KeyId, KeyState> keys_;
  // Index: the key ids of each account, in issue order.
  absl::flat_hash_map<AccountRef, std::vector<KeyId>, AccountRefHash, AccountRefEq> keys_by_account_;
  absl::flat_hash_map<std::string, GatewayState> gateways_;
  // Index: account_id '\0' MemberEmail(label) -> the live key with that label.
  absl::flat_hash_map<std::string, KeyId> member_by_email_;
  uint64_t credentials_version_ = 0;
  bool any_rate_limits_ = false;
  bool any_credits_ = false;
  bool any_expiry_ = false;
  bool any_alerts_ = false;
  std::vector<KeyId> spent_;  // keys whose credits or alert windows changed since PutSpentCredits()
};

}  // namespace keymeter
