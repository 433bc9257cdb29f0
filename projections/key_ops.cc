// KeyDirectory::Apply: finds what a lifecycle op names, hands it to its family's function
// (key_ops_internal.h lists them) and writes the outcome.
//
// Checks, in order, each refusing with the code shown:
//   GatewayCreated/GatewayRevoked -> their function (no account, no audit entry)
//   AccountCreated                -> CreateAccount (it checks the account itself)
//   account not found             -> NO-SUCH-ACCOUNT (no audit entry: no account to keep it)
//   AdminTokenSet, AccountStatusSet -> their function (the operator's)
//   account suspended             -> ACCOUNT-SUSPENDED unless the operator (or System) sent it
//   KeyIssued, AccountConfigSet, DeadLetterRedriven, UsageAdjusted, WebhookCreated,
//   WebhookDeleted                -> their function
//   RequestEvent, NONE, WebhookAttempted, AlertsPublished -> NOT-A-LIFECYCLE-OP
//   key op: target key            -> FindTarget's codes
//   key op by a member            -> FORBIDDEN unless KeyRotated/AllowedSourcesSet on its own key
//   key op                        -> its function
//
// Writes of one Apply() to the batch, in this order (column_families.h has the layouts);
// replay determinism and the store checksum depend on the bytes and their order:
//   writes     := gateway_put | key_put? (audit_put account_put)?
//   gateway_put:= gateways[gateway_id] = GatewayRecord   an accepted gateway op
//   key_put    := keys[key_id] = KeyRecord           the key an accepted op issued or changed
//   audit_put  := audit[account_id 0x00 be64(time_us) be64(seq)] = AuditRecord
//   account_put:= accounts[account_id] = AccountRecord   (its next_audit_seq moved on)
// A refused op writes no key; audit_put and account_put come whenever the envelope's account
// exists (or was just created), the refusal included.

#include <rocksdb/write_batch.h>

#include <algorithm>

#include "projections/audit.h"
#include "projections/key_codec.h"
#include "projections/key_directory.h"
#include "projections/key_ops_internal.h"
#include "schemas/envelope.h"

namespace keymeter {
namespace key_ops {

std::vector<std::string> Strings(
    const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (v != nullptr) {
    for (const flatbuffers::String* s : *v) out.push_back(s->str());
  }
  return out;
}

Status OpContext::FindTarget(const std::string& text, KeyState** out) {
  std::optional<KeyId> id = KeyId::Parse(text);
  KeyState* key = id ? KeyDirectoryInternal::MutableKey(dir, *id) : nullptr;
  if (key == nullptr || !Sees(*key)) {
    return Refuse(Code::kNoSuchApiKey, "no key '" + target_key_id + "'");
  }
  if (key->account_id != account->account_id) {
    return Refuse(Code::kUnableToChangeNotOwnApiKey, "the key belongs to another account");
  }
  if (key->status == fb::KeyStatus::Deleted) {
    return Refuse(Code::kKeyDeleted, "the key was deleted; deletion is permanent");
  }
  *out = key;
  return Status::Ok();
}

void OpContext::PutKey(KeyState& key) {
  key.DropEmptyExtras();
  KeyDirectoryInternal::NoteLimits(dir, key);
  const std::string id = key.id.str();
  batch->Put(KeyDirectoryInternal::Handle(dir, Cf::kKeys), id, EncodeKey(key))
      .PermitUncheckedError();
}

namespace {

// An op on an existing key of c.account: finds the key, checks a member's rights, applies the
// op and, if accepted, writes the key.
Status ApplyKeyOp(OpContext& c) {
  const fb::Envelope& env = c.env;
  const flatbuffers::String* key_text = KeyIdOf(env);
  c.target_key_id = Str(key_text).substr(0, kKeyIdLength);
  KeyState* key = nullptr;
  if (Status s = c.FindTarget(Str(key_text), &key); !s.ok()) return s;
  if (c.actor() == fb::ActorKind::Member) {
    const bool own = env.actor()->key_id() && Str(env.actor()->key_id()) == key->id.str();
    const bool member_op =
        env.op_type() == fb::Op::KeyRotated || env.op_type() == fb::Op::AllowedSourcesSet;
    if (!own || !member_op)
      return Refuse(Code::kForbidden,
                    "a member may only rotate its own key "
                    "and set its own allowed sources");
  }
  Status s;
  switch (env.op_type()) {
    case fb::Op::ParentSet:
      s = SetParent(c, *key, Str(env.op_as_ParentSet()->parent_key_id()));
      break;
    case fb::Op::KeyRotated:
      s = Rotate(c, *key, *env.op_as_KeyRotated());
      break;
    case fb::Op::KeySuspended:
      s = Transition(c, *key, fb::KeyStatus::Suspended);
      break;
    case fb::Op::KeyActivated:
      s = Transition(c, *key, fb::KeyStatus::Active);
      break;
    case fb::Op::KeyConfirmed:
      s = Transition(c, *key, fb::KeyStatus::Active);
      break;
    case fb::Op::KeyDeleted:
      s = Delete(c, *key);
      break;
    case fb::Op::AllowedSourcesSet:
      s = SetSources(c, *key, *env.op_as_AllowedSourcesSet());
      break;
    case fb::Op::ConfigSet:
      s = SetConfig(c, *key, *env.op_as_ConfigSet());
      break;
    case fb::Op::QuotaSet:
      s = SetQuota(c, *key, *env.op_as_QuotaSet());
      break;
    case fb::Op::MemberCapSet:
      s = SetCap(c, *key, *env.op_as_MemberCapSet());
      break;
    case fb::Op::RateLimitSet:
      s = SetRateLimits(c, *key, *env.op_as_RateLimitSet());
      break;
    case fb::Op::KeyExpirySet:
      s = SetExpiry(c, *key, *env.op_as_KeyExpirySet());
      break;
    case fb::Op::CreditsAdded:
      s = AddCredits(c, *key, *env.op_as_CreditsAdded());
      break;
    case fb::Op::CreditsConfigSet:
      s = SetCredits(c, *key, *env.op_as_CreditsConfigSet());
      break;
    case fb::Op::AlertThresholdsSet:
      s = SetAlertThresholds(c, *key, *env.op_as_AlertThresholdsSet());
      break;
    default:
      return Refuse(Code::kNotALifecycleOp, "not a lifecycle op");
  }
  if (s.ok()) c.PutKey(*key);
  return s;
}

// The outcome of the op in c.env; sets c.account when the envelope's account exists.
Status Dispatch(OpContext& c) {
  const std::string account_id = Str(c.env.account_id());
  switch (c.env.op_type()) {
    case fb::Op::GatewayCreated:
      return CreateGateway(c, *c.env.op_as_GatewayCreated());
    case fb::Op::GatewayRevoked:
      return RevokeGateway(c, *c.env.op_as_GatewayRevoked());
    case fb::Op::AccountCreated:
      return CreateAccount(c, account_id);
    default:
      break;
  }
  c.account = KeyDirectoryInternal::MutableAccount(c.dir, account_id);
  if (c.account == nullptr) {
    return Refuse(Code::kNoSuchAccount, "account " + account_id + " does not exist");
  }
  if (c.env.op_type() == fb::Op::AdminTokenSet) {
    return SetAdminToken(c, *c.env.op_as_AdminTokenSet());
  }
  if (c.env.op_type() == fb::Op::AccountStatusSet) {
    return SetAccountStatus(c, *c.env.op_as_AccountStatusSet());
  }
  if (c.account->suspended && !c.by_operator()) {
    return Refuse(Code::kAccountSuspended, "the account is suspended");
  }
  switch (c.env.op_type()) {
    case fb::Op::KeyIssued:
      return IssueKey(c, *c.env.op_as_KeyIssued());
    case fb::Op::AccountConfigSet:
      return SetAccountConfig(c, *c.env.op_as_AccountConfigSet());
    case fb::Op::DeadLetterRedriven:
      return RecordRedrive(c, *c.env.op_as_DeadLetterRedriven());
    case fb::Op::UsageAdjusted:
      return AdjustUsage(c, *c.env.op_as_UsageAdjusted());
    case fb::Op::WebhookCreated:
      return CreateWebhook(c, *c.env.op_as_WebhookCreated());
    case fb::Op::WebhookDeleted:
      return DeleteWebhookOp(c, *c.env.op_as_WebhookDeleted());
    case fb::Op::WebhookAttempted:
    case fb::Op::AlertsPublished:  // the projector's (engine/projector_alerts.cc)
    case fb::Op::RequestEvent:
    case fb::Op::NONE:
    case fb::Op::AccountCreated:
      return Refuse(Code::kNotALifecycleOp, "not a lifecycle op");
    default:
      return ApplyKeyOp(c);
  }
}

// Writes the audit entry of `outcome` and the account whose audit counter it advanced.
void PutAuditAndAccount(OpContext& c, const Status& outcome) {
  const fb::Envelope& env = c.env;
  AuditEntry entry;
  entry.time_us = c.now;
  entry.seq = c.account->next_audit_seq++;
  entry.command_id = Str(env.command_id());
  if (env.actor() != nullptr) {
    entry.actor_kind = env.actor()->kind();
    entry.actor_key_id = Str(env.actor()->key_id());
  }
  entry.op = std::string(OpName(env.op_type()));
  entry.key_id = c.target_key_id;
  entry.outcome = std::string(outcome.name());
  entry.detail = outcome.ok() ? c.detail : outcome.message();
  PutAudit(c.batch, KeyDirectoryInternal::Handle(c.dir, Cf::kAudit), c.account->account_id, entry);
  c.batch
      ->Put(KeyDirectoryInternal::Handle(c.dir, Cf::kAccounts), c.account->account_id.str(),
            EncodeAccount(*c.account))
      .PermitUncheckedError();
}

}  // namespace
}  // namespace key_ops

Status KeyDirectory::Apply(const fb::Envelope& envelope, rocksdb::WriteBatch* batch,
                           const std::function<bool(std::string_view account)>& same_log,
                           TimeUs closed_before) {
  key_ops::OpContext c{.dir = *this,
                       .env = envelope,
                       .batch = batch,
                       .now = envelope.time_us(),
                       .same_log = &same_log,
                       .closed_before = closed_before};
  Status outcome = key_ops::Dispatch(c);
  if (c.account == nullptr) return outcome;  // no account to keep the entry under
  key_ops::PutAuditAndAccount(c, outcome);
  return outcome;
}

}  // namespace keymeter
