// Account and gateway ops (DESIGN §1, §3).
//
//   AccountCreated   := MISSING-FIELD (empty account_id) | DUPLICATE-ACCOUNT
//                     | FORBIDDEN (actor not Operator or System)
//                     | MISSING-FIELD (no admin_token_hash) | OK: a new account
//   AccountConfigSet := FORBIDDEN (a member) | OK: require_confirmation set
//   AdminTokenSet    := FORBIDDEN (not Operator or System) | OK: token replaced or revoked
//   AccountStatusSet := FORBIDDEN (not Operator or System)
//                     | INVALID-STATUS-TRANSITION (already so) | OK
//   GatewayCreated   := FORBIDDEN (not Operator or System) | DUPLICATE-GATEWAY | OK
//   GatewayRevoked   := FORBIDDEN | NO-SUCH-GATEWAY | INVALID-STATUS-TRANSITION (revoked) | OK
//   DeadLetterRedriven := FORBIDDEN (not Operator or System) | OK: the audit entry alone
//
// The account ops write nothing to the batch: key_ops.cc writes the account with the op's
// audit entry. The gateway ops write their gateway record.

#include <rocksdb/write_batch.h>

#include "projections/key_codec.h"
#include "projections/key_ops_internal.h"
#include "schemas/ids.h"

namespace keymeter::key_ops {

Status CreateAccount(OpContext& c, const std::string& account_id) {
  if (account_id.empty()) return Refuse(Code::kMissingField, "account_id is empty");
  if (AccountState* existing = KeyDirectoryInternal::MutableAccount(c.dir, account_id)) {
    c.account = existing;
    return Refuse(Code::kDuplicateAccount, "account " + account_id + " exists");
  }
  if (!c.by_operator()) {
    return Refuse(Code::kForbidden, "only the operator creates accounts");
  }
  const fb::AccountCreated& op = *c.env.op_as_AccountCreated();
  if (op.admin_token_hash() == nullptr) return Refuse(Code::kMissingField, "admin_token_hash");
  AccountState a;
  a.account_id = account_id;
  a.name = Str(op.name());
  a.admin_token_hash = DigestFromFb(op.admin_token_hash());
  a.require_confirmation = op.require_confirmation();
  a.created_us = a.updated_us = c.now;
  c.account = &KeyDirectoryInternal::AddAccount(c.dir, account_id, std::move(a));
  KeyDirectoryInternal::CredentialsChanged(c.dir);
  c.detail = "account '" + c.account->name.str() + "' created";
  return Status::Ok();
}

Status SetAccountConfig(OpContext& c, const fb::AccountConfigSet& op) {
  if (c.actor() == fb::ActorKind::Member) return Refuse(Code::kForbidden, "admin only");
  c.account->require_confirmation = op.require_confirmation();
  c.account->updated_us = c.now;
  c.detail = std::string("require_confirmation=") + (op.require_confirmation() ? "true" : "false");
  return Status::Ok();
}

namespace {

void PutGateway(OpContext& c, const GatewayState& g) {
  c.batch
      ->Put(KeyDirectoryInternal::Handle(c.dir, Cf::kGateways), g.gateway_id, EncodeGateway(g))
      .PermitUncheckedError();
}

}  // namespace

Status SetAdminToken(OpContext& c, const fb::AdminTokenSet& op) {
  if (!c.by_operator()) return Refuse(Code::kForbidden, "only the operator sets admin tokens");
  if (op.admin_token_hash() != nullptr) {
    c.account->admin_token_hash = DigestFromFb(op.admin_token_hash());
    c.account->admin_token_revoked = false;
    c.detail = "admin token replaced";
  } else {
    c.account->admin_token_hash = Digest{};
    c.account->admin_token_revoked = true;
    c.detail = "admin token revoked";
  }
  c.account->updated_us = c.now;
  KeyDirectoryInternal::CredentialsChanged(c.dir);
  return Status::Ok();
}

Status SetAccountStatus(OpContext& c, const fb::AccountStatusSet& op) {
  if (!c.by_operator()) return Refuse(Code::kForbidden, "only the operator suspends accounts");
  if (c.account->suspended == op.suspended()) {
    return Refuse(Code::kInvalidStatusTransition,
                  op.suspended() ? "the account is suspended already" : "the account is active");
  }
  c.account->suspended = op.suspended();
  c.account->updated_us = c.now;
  c.detail = op.suspended() ? "account active -> suspended" : "account suspended -> active";
  return Status::Ok();
}

Status RecordRedrive(OpContext& c, const fb::DeadLetterRedriven& op) {
  if (!c.by_operator()) return Refuse(Code::kForbidden, "only the operator re-drives dead letters");
  c.target_key_id = Str(op.key_id()).substr(0, kKeyIdLength);
  c.detail = "dead letter " + Str(op.reason()) + " at partition " + std::to_string(op.partition()) +
             " offset " + std::to_string(op.offset()) + " (" + Str(op.op());
  if (op.request_id() != nullptr) {
    c.detail += " " + RequestIdText(RequestIdFromFb(op.request_id()));
  }
  c.detail += ") published again";
  return Status::Ok();
}

Status CreateGateway(OpContext& c, const fb::GatewayCreated& op) {
  if (!c.by_operator()) return Refuse(Code::kForbidden, "only the operator creates gateways");
  const std::string id = Str(op.gateway_id());
  if (KeyDirectoryInternal::MutableGateway(c.dir, id) != nullptr) {
    return Refuse(Code::kDuplicateGateway, "gateway " + id + " exists");
  }
  GatewayState g;
  g.gateway_id = id;
  g.name = Str(op.name());
  g.token_hash = DigestFromFb(op.token_hash());
  g.created_us = c.now;
  PutGateway(c, KeyDirectoryInternal::AddGateway(c.dir, std::move(g)));
  KeyDirectoryInternal::CredentialsChanged(c.dir);
  return Status::Ok();
}

Status RevokeGateway(OpContext& c, const fb::GatewayRevoked& op) {
  if (!c.by_operator()) return Refuse(Code::kForbidden, "only the operator revokes gateways");
  const std::string id = Str(op.gateway_id());
  GatewayState* g = KeyDirectoryInternal::MutableGateway(c.dir, id);
  if (g == nullptr) return Refuse(Code::kNoSuchGateway, "no gateway " + id);
  if (g->revoked()) return Refuse(Code::kInvalidStatusTransition, "gateway " + id + " is revoked");
  g->revoked_us = std::max<TimeUs>(c.now, 1);
  PutGateway(c, *g);
  KeyDirectoryInternal::CredentialsChanged(c.dir);
  return Status::Ok();
}

}  // namespace keymeter::key_ops
