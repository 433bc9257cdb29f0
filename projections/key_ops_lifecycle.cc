// Key issue and lifecycle ops (DESIGN §1): KeyIssued, the status transitions, KeyRotated and
// KeyDeleted.
//
//   KeyIssued    := FORBIDDEN (a member) | MALFORMED-KEY-ID | MISSING-FIELD (no secret_hash)
//                 | DUPLICATE-KEY-ID | INVALID-STATUS-TRANSITION (issued deleted)
//                 | DUPLICATE-MEMBER (an e-mail label a live key of the account has: seed 000)
//                 | CheckParent's codes (a parent named) | OK: a new key, written here
//   status       := pending --KeyConfirmed--> active <--KeyActivated-- suspended
//                   pending, active --KeySuspended--> suspended
//                   anything else: INVALID-STATUS-TRANSITION
//   KeyRotated   := MISSING-FIELD (no secret_hash) | IDEMPOTENCY-KEY-REUSED (the new secret is
//                   the current or the old one: a retry's Idempotency-Key sent again after its
//                   window) | OK: new secret, the old one kept until grace_until_us if that is
//                   after the event time
//   KeyDeleted   := KEY-HAS-CHILDREN | OK: deleted for ever; a child leaves its parent, its
//                   pool kept as root_at_delete
//
// Only IssueKey writes (the new key); for the others key_ops.cc writes the key once accepted.

#include "projections/key_ops_internal.h"
#include "projections/time_buckets.h"

namespace keymeter::key_ops {

Status IssueKey(OpContext& c, const fb::KeyIssued& op) {
  c.target_key_id = Str(op.key_id());
  if (c.actor() == fb::ActorKind::Member) return Refuse(Code::kForbidden, "admin only");
  std::optional<KeyId> id = KeyId::Parse(c.target_key_id);
  if (!id || c.target_key_id.size() != kKeyIdLength) {
    return Refuse(Code::kMalformedKeyId, "a key id is 8 characters of [A-Za-z0-9]");
  }
  if (op.secret_hash() == nullptr) return Refuse(Code::kMissingField, "secret_hash");
  if (KeyDirectoryInternal::MutableKey(c.dir, *id) != nullptr) {
    return Refuse(Code::kDuplicateKeyId, "key id is taken");
  }
  if (op.status() == fb::KeyStatus::Deleted) {
    return Refuse(Code::kInvalidStatusTransition, "a key can't be issued deleted");
  }
  if (op.expires_at_us() < 0) return Refuse(Code::kInvalidExpiry, "expires_at_us is negative");
  const std::string email = MemberEmail(Str(op.label()));
  if (!email.empty()) {
    if (std::optional<KeyId> holder =
            KeyDirectoryInternal::MemberWithEmail(c.dir, c.account->account_id, email)) {
      return Refuse(Code::kDuplicateMember,
                    "key " + holder->str() + " of this account has this e-mail address");
    }
  }
  KeyState key;
  key.id = *id;
  key.account_id = c.account->account_id;
  key.secret_hash = DigestFromFb(op.secret_hash());
  key.label = Str(op.label());
  key.status = op.status();
  key.created_us = key.updated_us = c.now;
  if (op.expires_at_us() > 0) key.mutable_extras().expires_at_us = op.expires_at_us();
  c.detail = std::string("issued, status ") + std::string(StatusName(key.status));
  if (op.expires_at_us() > 0) c.detail += ", expires " + FormatRfc3339(op.expires_at_us());
  const std::string parent = Str(op.parent_key_id());
  KeyState* parent_key = nullptr;
  if (!parent.empty()) {
    if (Status s = CheckParent(c, key, parent, &parent_key); !s.ok()) return s;
    key.parent = parent_key->id;
    ++parent_key->children;
    c.detail += ", parent " + parent_key->id.str();
  }
  KeyState& added = KeyDirectoryInternal::AddKey(c.dir, std::move(key));
  if (!email.empty()) {
    KeyDirectoryInternal::IndexMemberEmail(c.dir, c.account->account_id, email, added.id);
  }
  c.PutKey(added);
  return Status::Ok();
}

Status Transition(OpContext& c, KeyState& key, fb::KeyStatus to) {
  const fb::KeyStatus from = key.status;
  const fb::Op op = c.env.op_type();
  const bool ok = (op == fb::Op::KeyConfirmed && from == fb::KeyStatus::Pending) ||
                  (op == fb::Op::KeyActivated && from == fb::KeyStatus::Suspended) ||
                  (op == fb::Op::KeySuspended && from != fb::KeyStatus::Suspended);
  if (!ok) {
    return Refuse(
        Code::kInvalidStatusTransition,
        std::string(OpName(op)) + " is not allowed on a " + std::string(StatusName(from)) + " key");
  }
  key.status = to;
  key.updated_us = c.now;
  c.detail = "status " + std::string(StatusName(from)) + " -> " + std::string(StatusName(to));
  return Status::Ok();
}

Status Rotate(OpContext& c, KeyState& key, const fb::KeyRotated& op) {
  if (op.secret_hash() == nullptr) return Refuse(Code::kMissingField, "secret_hash");
  const Digest next = DigestFromFb(op.secret_hash());
  if (next == key.secret_hash ||
      (key.extras().has_old_secret && next == key.extras().old_secret_hash)) {
    return Refuse(Code::kIdempotencyKeyReused,
                  "the new secret is this key's current or previous one: an Idempotency-Key "
                  "sent again after its window; rotate with a new one");
  }
  KeyExtras& x = key.mutable_extras();
  x.has_old_secret = op.grace_until_us() > c.now;
  x.old_secret_hash = x.has_old_secret ? key.secret_hash : Digest{};
  x.grace_until_us = x.has_old_secret ? op.grace_until_us() : 0;
  key.secret_hash = next;
  key.updated_us = c.now;
  c.detail = x.has_old_secret ? "rotated; old secret valid until grace deadline"
                              : "rotated; old secret revoked";
  return Status::Ok();
}

Status Delete(OpContext& c, KeyState& key) {
  if (key.children > 0) {
    return Refuse(Code::kKeyHasChildren, "delete or detach the children of this key first");
  }
  c.detail = "status " + std::string(StatusName(key.status)) + " -> deleted";
  // A deleted key leaves the hierarchy, so no key ever hangs two levels deep; its past usage
  // stays where it was counted.
  if (key.is_child()) {
    --KeyDirectoryInternal::KeyAt(c.dir, key.parent).children;
    c.detail += ", detached from parent " + key.parent.str();
    key.mutable_extras().root_at_delete = key.parent;
    key.parent = KeyId();
  }
  key.status = fb::KeyStatus::Deleted;
  key.mutable_extras().has_old_secret = false;
  // Its address may be invited again.
  if (const std::string email = MemberEmail(key.label); !email.empty()) {
    KeyDirectoryInternal::UnindexMemberEmail(c.dir, key.account_id, email, key.id);
  }
  key.updated_us = c.now;
  return Status::Ok();
}

}  // namespace keymeter::key_ops
