// KeyDirectory::Apply: the lifecycle rules of DESIGN §1, one function per op.

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <map>

#include "projections/audit.h"
#include "projections/key_codec.h"
#include "projections/key_directory.h"
#include "schemas/envelope.h"

namespace keymeter {

namespace {

constexpr size_t kMaxSources = 256;
constexpr size_t kMaxConfigEntries = 256;

const Status kOk;
Status Refuse(const char* code, std::string message) { return Status(code, std::move(message)); }

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

Digest ToDigest(const fb::Sha256* s) {
  Digest d{};
  std::copy(s->bytes()->begin(), s->bytes()->end(), d.begin());
  return d;
}

std::vector<std::string> Strings(
    const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (v != nullptr) {
    for (const flatbuffers::String* s : *v) out.push_back(s->str());
  }
  return out;
}

}  // namespace

// Applies one envelope to a KeyDirectory; lives for one Apply() call.
class KeyOpApplier {
 public:
  KeyOpApplier(KeyDirectory& dir, const fb::Envelope& env, rocksdb::WriteBatch* batch)
      : dir_(dir), env_(env), batch_(batch), now_(env.time_us()) {}

  Status Run() {
    Status outcome = Dispatch();
    if (account_ == nullptr) return outcome;  // no account to keep the entry under
    AuditEntry entry;
    entry.time_us = now_;
    entry.seq = account_->next_audit_seq++;
    entry.command_id = Str(env_.command_id());
    if (env_.actor() != nullptr) {
      entry.actor_kind = env_.actor()->kind();
      entry.actor_key_id = Str(env_.actor()->key_id());
    }
    entry.op = std::string(OpName(env_.op_type()));
    entry.key_id = target_key_id_;
    entry.outcome = outcome.code();
    entry.detail = outcome.ok() ? detail_ : outcome.message();
    PutAudit(batch_, dir_.cfs_[Cf::kAudit], account_->account_id, entry);
    batch_->Put(dir_.cfs_[Cf::kAccounts], account_->account_id.str(), EncodeAccount(*account_))
        .PermitUncheckedError();
    return outcome;
  }

 private:
  fb::ActorKind actor() const {
    return env_.actor() ? env_.actor()->kind() : fb::ActorKind::System;
  }

  Status Dispatch() {
    const std::string account_id = Str(env_.account_id());
    if (env_.op_type() == fb::Op::AccountCreated) return CreateAccount(account_id);
    auto account = dir_.accounts_.find(account_id);
    if (account == dir_.accounts_.end()) {
      return Refuse("NO-SUCH-ACCOUNT", "account " + account_id + " does not exist");
    }
    account_ = &account->second;
    switch (env_.op_type()) {
      case fb::Op::KeyIssued: return IssueKey(*env_.op_as_KeyIssued());
      case fb::Op::AccountConfigSet: return SetAccountConfig(*env_.op_as_AccountConfigSet());
      case fb::Op::RequestEvent:
      case fb::Op::NONE:
      case fb::Op::AccountCreated: return Refuse("NOT-A-LIFECYCLE-OP", "not a lifecycle op");
      default: break;
    }
    const flatbuffers::String* key_text = KeyIdOf();
    target_key_id_ = Str(key_text).substr(0, kKeyIdLength);
    KeyState* key = nullptr;
    if (Status s = FindTarget(Str(key_text), &key); !s.ok()) return s;
    if (actor() == fb::ActorKind::Member) {
      const bool own = env_.actor()->key_id() && Str(env_.actor()->key_id()) == key->id.str();
      const bool member_op = env_.op_type() == fb::Op::KeyRotated ||
                             env_.op_type() == fb::Op::AllowedSourcesSet;
      if (!own || !member_op) return Refuse("FORBIDDEN", "a member may only rotate its own key "
                                                         "and set its own allowed sources");
    }
    Status s;
    switch (env_.op_type()) {
      case fb::Op::ParentSet: s = SetParent(*key, Str(env_.op_as_ParentSet()->parent_key_id())); break;
      case fb::Op::KeyRotated: s = Rotate(*key, *env_.op_as_KeyRotated()); break;
      case fb::Op::KeySuspended: s = Transition(*key, fb::KeyStatus::Suspended); break;
      case fb::Op::KeyActivated: s = Transition(*key, fb::KeyStatus::Active); break;
      case fb::Op::KeyConfirmed: s = Transition(*key, fb::KeyStatus::Active); break;
      case fb::Op::KeyDeleted: s = Delete(*key); break;
      case fb::Op::AllowedSourcesSet: s = SetSources(*key, *env_.op_as_AllowedSourcesSet()); break;
      case fb::Op::ConfigSet: s = SetConfig(*key, *env_.op_as_ConfigSet()); break;
      case fb::Op::QuotaSet: s = SetQuota(*key, *env_.op_as_QuotaSet()); break;
      case fb::Op::MemberCapSet: s = SetCap(*key, *env_.op_as_MemberCapSet()); break;
      default: return Refuse("NOT-A-LIFECYCLE-OP", "not a lifecycle op");
    }
    if (s.ok()) PutKey(*key);
    return s;
  }

  // The key_id field of the op in the envelope.
  const flatbuffers::String* KeyIdOf() const {
    switch (env_.op_type()) {
      case fb::Op::ParentSet: return env_.op_as_ParentSet()->key_id();
      case fb::Op::KeyRotated: return env_.op_as_KeyRotated()->key_id();
      case fb::Op::KeySuspended: return env_.op_as_KeySuspended()->key_id();
      case fb::Op::KeyActivated: return env_.op_as_KeyActivated()->key_id();
      case fb::Op::KeyConfirmed: return env_.op_as_KeyConfirmed()->key_id();
      case fb::Op::KeyDeleted: return env_.op_as_KeyDeleted()->key_id();
      case fb::Op::AllowedSourcesSet: return env_.op_as_AllowedSourcesSet()->key_id();
      case fb::Op::ConfigSet: return env_.op_as_ConfigSet()->key_id();
      case fb::Op::QuotaSet: return env_.op_as_QuotaSet()->key_id();
      case fb::Op::MemberCapSet: return env_.op_as_MemberCapSet()->key_id();
      default: return nullptr;
    }
  }

  Status FindTarget(const std::string& text, KeyState** out) {
    std::optional<KeyId> id = KeyId::Parse(text);
    auto it = id ? dir_.keys_.find(*id) : dir_.keys_.end();
    if (it == dir_.keys_.end()) return Refuse("NO-SUCH-API-KEY", "no key '" + target_key_id_ + "'");
    if (it->second.account_id != account_->account_id) {
      return Refuse("UNABLE-TO-CHANGE-NOT-OWN-API-KEY", "the key belongs to another account");
    }
    if (it->second.status == fb::KeyStatus::Deleted) {
      return Refuse("KEY-DELETED", "the key was deleted; deletion is permanent");
    }
    *out = &it->second;
    return kOk;
  }

  Status CreateAccount(const std::string& account_id) {
    if (account_id.empty()) return Refuse("MISSING-FIELD", "account_id is empty");
    auto it = dir_.accounts_.find(account_id);
    if (it != dir_.accounts_.end()) {
      account_ = &it->second;
      return Refuse("DUPLICATE-ACCOUNT", "account " + account_id + " exists");
    }
    if (actor() != fb::ActorKind::Operator && actor() != fb::ActorKind::System) {
      return Refuse("FORBIDDEN", "only the operator creates accounts");
    }
    const fb::AccountCreated& op = *env_.op_as_AccountCreated();
    if (op.admin_token_hash() == nullptr) return Refuse("MISSING-FIELD", "admin_token_hash");
    AccountState a;
    a.account_id = account_id;
    a.name = Str(op.name());
    a.admin_token_hash = ToDigest(op.admin_token_hash());
    a.require_confirmation = op.require_confirmation();
    a.created_us = a.updated_us = now_;
    account_ = &dir_.accounts_.emplace(account_id, std::move(a)).first->second;
    detail_ = "account '" + account_->name + "' created";
    return kOk;
  }

  Status SetAccountConfig(const fb::AccountConfigSet& op) {
    if (actor() == fb::ActorKind::Member) return Refuse("FORBIDDEN", "admin only");
    account_->require_confirmation = op.require_confirmation();
    account_->updated_us = now_;
    detail_ = std::string("require_confirmation=") + (op.require_confirmation() ? "true" : "false");
    return kOk;
  }

  Status IssueKey(const fb::KeyIssued& op) {
    target_key_id_ = Str(op.key_id());
    if (actor() == fb::ActorKind::Member) return Refuse("FORBIDDEN", "admin only");
    std::optional<KeyId> id = KeyId::Parse(target_key_id_);
    if (!id || target_key_id_.size() != kKeyIdLength) {
      return Refuse("MALFORMED-KEY-ID", "a key id is 8 characters of [A-Za-z0-9]");
    }
    if (op.secret_hash() == nullptr) return Refuse("MISSING-FIELD", "secret_hash");
    if (dir_.keys_.contains(*id)) return Refuse("DUPLICATE-KEY-ID", "key id is taken");
    if (op.status() == fb::KeyStatus::Deleted) {
      return Refuse("INVALID-STATUS-TRANSITION", "a key can't be issued deleted");
    }
    KeyState key;
    key.id = *id;
    key.account_id = account_->account_id;
    key.secret_hash = ToDigest(op.secret_hash());
    key.label = Str(op.label());
    key.status = op.status();
    key.created_us = key.updated_us = now_;
    detail_ = std::string("issued, status ") + std::string(StatusName(key.status));
    const std::string parent = Str(op.parent_key_id());
    KeyState* parent_key = nullptr;
    if (!parent.empty()) {
      if (Status s = CheckParent(key, parent, &parent_key); !s.ok()) return s;
      key.parent = parent_key->id;
      ++parent_key->children;
      detail_ += ", parent " + parent_key->id.str();
    }
    dir_.keys_by_account_[key.account_id].push_back(key.id);
    KeyState& stored = dir_.keys_.emplace(key.id, std::move(key)).first->second;
    PutKey(stored);
    return kOk;
  }

  // Seed 001's rules for making `parent_text` the parent of `key`.
  Status CheckParent(const KeyState& key, const std::string& parent_text, KeyState** out) {
    if (parent_text.size() < kKeyIdLength) {
      return Refuse("INVALID-PARENT-API-KEY", "the parent key is too short; use at least 8 characters");
    }
    std::optional<KeyId> id = KeyId::Parse(parent_text);
    auto it = id ? dir_.keys_.find(*id) : dir_.keys_.end();
    if (it == dir_.keys_.end()) return Refuse("UNABLE-TO-SET-PARENT-API-KEY", "the parent key does not exist");
    KeyState& parent = it->second;
    if (parent.account_id != key.account_id) {
      return Refuse("UNABLE-TO-CHANGE-NOT-OWN-API-KEY", "the parent key belongs to another account");
    }
    if (parent.id == key.id) return Refuse("UNABLE-TO-SET-PARENT-API-KEY", "a key can't be its own parent");
    if (parent.status == fb::KeyStatus::Deleted) {
      return Refuse("UNABLE-TO-SET-PARENT-API-KEY", "the parent key was deleted");
    }
    if (parent.is_child()) return Refuse("UNABLE-TO-SET-PARENT-API-KEY", "the parent key is itself a child");
    if (key.children > 0) return Refuse("UNABLE-TO-SET-PARENT-API-KEY", "the key has children of its own");
    *out = &parent;
    return kOk;
  }

  Status SetParent(KeyState& key, const std::string& parent_text) {
    const std::string before = key.is_child() ? key.parent.str() : "none";
    KeyState* parent = nullptr;
    if (!parent_text.empty()) {
      if (Status s = CheckParent(key, parent_text, &parent); !s.ok()) return s;
    }
    if (key.is_child()) --dir_.keys_.at(key.parent).children;
    key.parent = parent ? parent->id : KeyId();
    if (parent) ++parent->children;
    key.updated_us = now_;
    detail_ = "parent " + before + " -> " + (parent ? parent->id.str() : "none");
    return kOk;
  }

  Status Rotate(KeyState& key, const fb::KeyRotated& op) {
    if (op.secret_hash() == nullptr) return Refuse("MISSING-FIELD", "secret_hash");
    KeyExtras& x = key.mutable_extras();
    x.has_old_secret = op.grace_until_us() > now_;
    x.old_secret_hash = x.has_old_secret ? key.secret_hash : Digest{};
    x.grace_until_us = x.has_old_secret ? op.grace_until_us() : 0;
    key.secret_hash = ToDigest(op.secret_hash());
    key.updated_us = now_;
    detail_ = x.has_old_secret ? "rotated; old secret valid until grace deadline"
                               : "rotated; old secret revoked";
    return kOk;
  }

  // pending -> active (confirm); active <-> suspended; pending -> suspended.
  Status Transition(KeyState& key, fb::KeyStatus to) {
    const fb::KeyStatus from = key.status;
    const fb::Op op = env_.op_type();
    const bool ok = (op == fb::Op::KeyConfirmed && from == fb::KeyStatus::Pending) ||
                    (op == fb::Op::KeyActivated && from == fb::KeyStatus::Suspended) ||
                    (op == fb::Op::KeySuspended && from != fb::KeyStatus::Suspended);
    if (!ok) {
      return Refuse("INVALID-STATUS-TRANSITION", std::string(OpName(op)) + " is not allowed on a " +
                                                     std::string(StatusName(from)) + " key");
    }
    key.status = to;
    key.updated_us = now_;
    detail_ = "status " + std::string(StatusName(from)) + " -> " + std::string(StatusName(to));
    return kOk;
  }

  Status Delete(KeyState& key) {
    if (key.children > 0) {
      return Refuse("KEY-HAS-CHILDREN", "delete or detach the children of this key first");
    }
    detail_ = "status " + std::string(StatusName(key.status)) + " -> deleted";
    // A deleted key leaves the hierarchy, so no key ever hangs two levels deep; its past usage
    // stays where it was counted.
    if (key.is_child()) {
      --dir_.keys_.at(key.parent).children;
      detail_ += ", detached from parent " + key.parent.str();
      key.mutable_extras().root_at_delete = key.parent;
      key.parent = KeyId();
    }
    key.status = fb::KeyStatus::Deleted;
    key.mutable_extras().has_old_secret = false;
    key.updated_us = now_;
    return kOk;
  }

  Status SetSources(KeyState& key, const fb::AllowedSourcesSet& op) {
    std::vector<std::string> ips = Strings(op.ips());
    std::vector<std::string> domains = Strings(op.domains());
    if (ips.size() > kMaxSources || domains.size() > kMaxSources) {
      return Refuse("TOO-MANY-SOURCES", "at most 256 addresses and 256 domains");
    }
    for (const std::string& ip : ips) {
      if (!Cidr::Parse(ip)) return Refuse("INVALID-CIDR", "'" + ip + "' is not an IP address or CIDR block");
    }
    for (const std::string& d : domains) {
      if (!IsValidDomain(d)) return Refuse("INVALID-DOMAIN", "'" + d + "' is not a domain name");
    }
    KeyExtras& x = key.mutable_extras();
    x.sources = AllowedSources(ips);
    x.ips = std::move(ips);
    x.domains = std::move(domains);
    key.updated_us = now_;
    detail_ = "allowed sources: " + std::to_string(x.ips.size()) + " addresses, " +
              std::to_string(x.domains.size()) + " domains";
    return kOk;
  }

  Status SetConfig(KeyState& key, const fb::ConfigSet& op) {
    if (key.is_child()) {
      return Refuse("CONFIG-INHERITED-FROM-PARENT", "a child uses its parent's config; edit the parent");
    }
    KeyConfig config;
    config.products = Strings(op.products());
    std::sort(config.products.begin(), config.products.end());
    config.products.erase(std::unique(config.products.begin(), config.products.end()), config.products.end());
    std::map<std::string, std::string> settings;  // sorted, last one wins
    if (op.settings() != nullptr) {
      for (const fb::Setting* s : *op.settings()) settings[Str(s->name())] = Str(s->value());
    }
    if (config.products.size() > kMaxConfigEntries || settings.size() > kMaxConfigEntries) {
      return Refuse("CONFIG-TOO-LARGE", "at most 256 products and 256 settings");
    }
    config.settings.assign(settings.begin(), settings.end());
    detail_ = "config: " + std::to_string(config.products.size()) + " products, " +
              std::to_string(config.settings.size()) + " settings";
    key.mutable_extras().config = std::move(config);
    key.updated_us = now_;
    return kOk;
  }

  Status SetQuota(KeyState& key, const fb::QuotaSet& op) {
    if (key.is_child()) return Refuse("NOT-A-ROOT-KEY", "children draw on their parent's pool");
    key.daily_requests = op.daily_requests();
    key.monthly_units = op.monthly_units();
    key.updated_us = now_;
    detail_ = "quota: " + std::to_string(key.daily_requests) + " requests/day, " +
              std::to_string(key.monthly_units) + " units/month (0 = unlimited)";
    return kOk;
  }

  Status SetCap(KeyState& key, const fb::MemberCapSet& op) {
    if (!key.is_child()) return Refuse("NOT-A-CHILD-KEY", "a cap limits a child inside its parent's pool");
    key.member_cap = op.daily_requests();
    key.updated_us = now_;
    detail_ = "member cap: " + std::to_string(key.member_cap) + " requests/day (0 = none)";
    return kOk;
  }

  void PutKey(KeyState& key) {
    key.DropEmptyExtras();
    const std::string id = key.id.str();
    batch_->Put(dir_.cfs_[Cf::kKeys], id, EncodeKey(key)).PermitUncheckedError();
  }

  KeyDirectory& dir_;
  const fb::Envelope& env_;
  rocksdb::WriteBatch* batch_;
  const TimeUs now_;
  AccountState* account_ = nullptr;
  std::string target_key_id_;
  std::string detail_;
};

Status KeyDirectory::Apply(const fb::Envelope& envelope, rocksdb::WriteBatch* batch) {
  return KeyOpApplier(*this, envelope, batch).Run();
}

}  // namespace keymeter
