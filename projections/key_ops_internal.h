// Internal to projections/key_ops*.cc: what the lifecycle ops of KeyDirectory::Apply() share.
//
//   key_ops.cc            Apply(): finds the account and the target key, dispatches, writes
//                         the key, the audit entry and the account
//   key_ops_accounts.cc   AccountCreated, AccountConfigSet, AdminTokenSet, AccountStatusSet,
//                         GatewayCreated, GatewayRevoked
//   key_ops_lifecycle.cc  KeyIssued, KeySuspended/KeyActivated/KeyConfirmed, KeyRotated,
//                         KeyDeleted
//   key_ops_hierarchy.cc  ParentSet and the parent rules KeyIssued checks too (seed 001)
//   key_ops_settings.cc   AllowedSourcesSet, ConfigSet, QuotaSet, MemberCapSet, RateLimitSet,
//                         KeyExpirySet, CreditsAdded, CreditsConfigSet
//   key_ops_adjust.cc     UsageAdjusted
//   key_ops_webhooks.cc   WebhookCreated, WebhookDeleted
//
// An op function decides the op and changes the in-memory state; it returns OK (having set
// `detail`) or Refuse(code, message) having changed no state. It writes nothing to the batch
// itself, except IssueKey, which writes the new key: Apply() writes the target key after an
// accepted op, then the audit entry and the account (key_ops.cc has the order).
//
// Thread safety: as KeyDirectory::Apply(), for which all of this runs.

#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "projections/column_families.h"
#include "projections/key_directory.h"
#include "projections/key_state.h"
#include "schemas/envelope.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

// The only way into KeyDirectory's private state (its one friend), for the ops of key_ops*.cc:
// these lookups and additions, nothing more. Not thread-safe (see KeyDirectory).
class KeyDirectoryInternal {
 public:
  // The account with this id; nullptr if there is none.
  static AccountState* MutableAccount(KeyDirectory& dir, std::string_view account_id) {
    auto it = dir.accounts_.find(account_id);
    return it == dir.accounts_.end() ? nullptr : &it->second;
  }
  // Adds `account` under `account_id`, which `dir` does not have yet; returns it as stored.
  static AccountState& AddAccount(KeyDirectory& dir, const std::string& account_id,
                                  AccountState account) {
    return dir.accounts_.emplace(account_id, std::move(account)).first->second;
  }
  // The key with this id, deleted or not; nullptr if there is none.
  static KeyState* MutableKey(KeyDirectory& dir, KeyId id) {
    auto it = dir.keys_.find(id);
    return it == dir.keys_.end() ? nullptr : &it->second;
  }
  // The key with this id, which must exist (a linked parent does); std::out_of_range if not.
  static KeyState& KeyAt(KeyDirectory& dir, KeyId id) { return dir.keys_.at(id); }
  // Adds `key`, whose id `dir` does not have yet, last in its account's issue order; returns it
  // as stored. Pointers to the other keys stay valid.
  static KeyState& AddKey(KeyDirectory& dir, KeyState key) {
    dir.keys_by_account_[key.account_id].push_back(key.id);
    return dir.keys_.emplace(key.id, std::move(key)).first->second;
  }
  // The gateway with this id, revoked or not; nullptr if there is none.
  static GatewayState* MutableGateway(KeyDirectory& dir, std::string_view gateway_id) {
    auto it = dir.gateways_.find(std::string(gateway_id));
    return it == dir.gateways_.end() ? nullptr : &it->second;
  }
  // Adds `gateway`, whose id `dir` does not have yet; returns it as stored.
  static GatewayState& AddGateway(KeyDirectory& dir, GatewayState gateway) {
    std::string id = gateway.gateway_id;
    return dir.gateways_.emplace(std::move(id), std::move(gateway)).first->second;
  }
  // The index of member e-mails (MemberEmail): the live key of `account` labelled `email`.
  static std::optional<KeyId> MemberWithEmail(const KeyDirectory& dir, std::string_view account,
                                              const std::string& email) {
    auto it = dir.member_by_email_.find(std::string(account) + '\0' + email);
    if (it == dir.member_by_email_.end()) return std::nullopt;
    return it->second;
  }
  static void IndexMemberEmail(KeyDirectory& dir, std::string_view account,
                               const std::string& email, KeyId id) {
    dir.member_by_email_.insert_or_assign(std::string(account) + '\0' + email, id);
  }
  // Drops `email` from the index if it names key `id`.
  static void UnindexMemberEmail(KeyDirectory& dir, std::string_view account,
                                 const std::string& email, KeyId id) {
    auto it = dir.member_by_email_.find(std::string(account) + '\0' + email);
    if (it != dir.member_by_email_.end() && it->second == id) dir.member_by_email_.erase(it);
  }
  // Notes the limits `key` has (KeyDirectory::any_rate_limits(), any_credits(), and whether
  // any key has an expiry, for ExpiresAt()).
  static void NoteLimits(KeyDirectory& dir, const KeyState& key) {
    if (!key.has_extras()) return;
    if (key.extras().rate.any()) dir.any_rate_limits_ = true;
    if (key.extras().credits.enabled) dir.any_credits_ = true;
    if (key.extras().expires_at_us != 0) dir.any_expiry_ = true;
    if (!key.extras().alert_percents.empty()) dir.any_alerts_ = true;
  }
  // Marks the credentials changed (KeyDirectory::credentials_version()).
  static void CredentialsChanged(KeyDirectory& dir) { ++dir.credentials_version_; }
  // The store's handle of column family `cf`.
  static rocksdb::ColumnFamilyHandle* Handle(const KeyDirectory& dir, Cf cf) {
    return dir.cfs_[cf];
  }
};

namespace key_ops {

// Refusal of an op: a stable code (Code::kNoSuchApiKey) and a message for humans.
inline Status Refuse(Code code, std::string message) { return Status(code, std::move(message)); }

// The strings of `v`; empty for an absent vector.
std::vector<std::string> Strings(
    const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v);

// The state of one Apply() call: built by key_ops.cc, passed to the op functions below.
struct OpContext {
  KeyDirectory& dir;
  const fb::Envelope& env;
  rocksdb::WriteBatch* batch;
  TimeUs now;                       // the envelope's event time; the only clock
  AccountState* account = nullptr;  // the envelope's account, once found or created
  std::string target_key_id;        // the audit entry's key id
  std::string detail;               // the audit entry's detail when the op is accepted
  const std::function<bool(std::string_view)>* same_log = nullptr;  // KeyDirectory::Apply's
  TimeUs closed_before = INT64_MIN;  // KeyDirectory::Apply's: months ending by then are closed

  // True when the op may see `key`: its own account's, or another's on the same partition.
  bool Sees(const KeyState& key) const {
    return (account != nullptr && key.account_id == account->account_id) || same_log == nullptr ||
           !*same_log || (*same_log)(key.account_id);
  }

  // Who sent the op; System when the envelope names no actor.
  fb::ActorKind actor() const { return env.actor() ? env.actor()->kind() : fb::ActorKind::System; }
  // True when the operator (or the system, for ops with no actor) sent the op.
  bool by_operator() const {
    return actor() == fb::ActorKind::Operator || actor() == fb::ActorKind::System;
  }
  // The live key `text` names in `account`, in *out. NO-SUCH-API-KEY if none,
  // UNABLE-TO-CHANGE-NOT-OWN-API-KEY if another account's, KEY-DELETED if deleted.
  Status FindTarget(const std::string& text, KeyState** out);
  // Drops the key's empty extras and writes its record (keys: key_id -> KeyRecord).
  void PutKey(KeyState& key);
};

// Accounts (key_ops_accounts.cc). Operator or System only; c.account is set to the new
// account, or to the existing one on DUPLICATE-ACCOUNT so that the refusal is audited.
Status CreateAccount(OpContext& c, const std::string& account_id);
// Admins only (FORBIDDEN for a member).
Status SetAccountConfig(OpContext& c, const fb::AccountConfigSet& op);
// Operator or System only: a new admin token (the old one stops at once) or none (revoked).
Status SetAdminToken(OpContext& c, const fb::AdminTokenSet& op);
// Operator or System only: suspended <-> active; INVALID-STATUS-TRANSITION if already so.
Status SetAccountStatus(OpContext& c, const fb::AccountStatusSet& op);
// A correction of a closed month (key_ops_adjust.cc): operator or admin; the key may be deleted.
Status AdjustUsage(OpContext& c, const fb::UsageAdjusted& op);
// Webhook endpoints (key_ops_webhooks.cc): operator or admin.
Status CreateWebhook(OpContext& c, const fb::WebhookCreated& op);
Status DeleteWebhookOp(OpContext& c, const fb::WebhookDeleted& op);
// The operator's record of a re-driven dead letter (an audit entry, nothing else).
Status RecordRedrive(OpContext& c, const fb::DeadLetterRedriven& op);
// Gateways (key_ops_accounts.cc), about no account: Operator or System only. Each writes its
// gateway record (gateways: gateway_id -> GatewayRecord); no audit entry (DESIGN §3: the
// operator's ops; the record keeps when it was created and revoked).
Status CreateGateway(OpContext& c, const fb::GatewayCreated& op);
// NO-SUCH-GATEWAY, or INVALID-STATUS-TRANSITION when already revoked.
Status RevokeGateway(OpContext& c, const fb::GatewayRevoked& op);

// Key issue and lifecycle (key_ops_lifecycle.cc).
// Admins only; adds the key (linked to its parent, if named) and writes its record.
Status IssueKey(OpContext& c, const fb::KeyIssued& op);
// KeyConfirmed: pending -> active; KeyActivated: suspended -> active; KeySuspended: any live
// status but suspended -> suspended. INVALID-STATUS-TRANSITION otherwise.
Status Transition(OpContext& c, KeyState& key, fb::KeyStatus to);
// New secret; the old one stays valid until grace_until_us if that is after now.
Status Rotate(OpContext& c, KeyState& key, const fb::KeyRotated& op);
// For ever. KEY-HAS-CHILDREN while live children point at it; a child leaves its parent.
Status Delete(OpContext& c, KeyState& key);

// Hierarchy (key_ops_hierarchy.cc).
// Seed 001's rules for making `parent_text` the parent of `key`: the parent, in *out, is a live
// root key of the same account, not `key`, and `key` has no children.
Status CheckParent(OpContext& c, const KeyState& key, const std::string& parent_text,
                   KeyState** out);
// Links `key` to `parent_text`, or unlinks it when that is empty.
Status SetParent(OpContext& c, KeyState& key, const std::string& parent_text);

// Settings (key_ops_settings.cc).
// At most kMaxListItems IPs/CIDRs and domains, each valid.
Status SetSources(OpContext& c, KeyState& key, const fb::AllowedSourcesSet& op);
// Root keys only; products sorted and deduplicated, settings sorted by name (last one wins).
Status SetConfig(OpContext& c, KeyState& key, const fb::ConfigSet& op);
// Root keys only: the pool's daily requests and monthly units (0 = unlimited).
Status SetQuota(OpContext& c, KeyState& key, const fb::QuotaSet& op);
// Children only: the child's daily cap inside its parent's pool (0 = none).
Status SetCap(OpContext& c, KeyState& key, const fb::MemberCapSet& op);
Status SetAlertThresholds(OpContext& c, KeyState& key, const fb::AlertThresholdsSet& op);
Status SetRateLimits(OpContext& c, KeyState& key, const fb::RateLimitSet& op);
Status SetExpiry(OpContext& c, KeyState& key, const fb::KeyExpirySet& op);
Status AddCredits(OpContext& c, KeyState& key, const fb::CreditsAdded& op);
Status SetCredits(OpContext& c, KeyState& key, const fb::CreditsConfigSet& op);

}  // namespace key_ops
}  // namespace keymeter
