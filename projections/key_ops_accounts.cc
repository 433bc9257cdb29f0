// Account ops: AccountCreated and AccountConfigSet (DESIGN §1).
//
//   AccountCreated   := MISSING-FIELD (empty account_id) | DUPLICATE-ACCOUNT
//                     | FORBIDDEN (actor not Operator or System)
//                     | MISSING-FIELD (no admin_token_hash) | OK: a new account
//   AccountConfigSet := FORBIDDEN (a member) | OK: require_confirmation set
//
// Neither writes to the batch: key_ops.cc writes the account with the op's audit entry.

#include "projections/key_ops_internal.h"

namespace keymeter::key_ops {

Status CreateAccount(OpContext& c, const std::string& account_id) {
  if (account_id.empty()) return Refuse(Code::kMissingField, "account_id is empty");
  if (AccountState* existing = KeyDirectoryInternal::MutableAccount(c.dir, account_id)) {
    c.account = existing;
    return Refuse(Code::kDuplicateAccount, "account " + account_id + " exists");
  }
  if (c.actor() != fb::ActorKind::Operator && c.actor() != fb::ActorKind::System) {
    return Refuse(Code::kForbidden, "only the operator creates accounts");
  }
  const fb::AccountCreated& op = *c.env.op_as_AccountCreated();
  if (op.admin_token_hash() == nullptr) return Refuse(Code::kMissingField, "admin_token_hash");
  AccountState a;
  a.account_id = account_id;
  a.name = Str(op.name());
  a.admin_token_hash = ToDigest(op.admin_token_hash());
  a.require_confirmation = op.require_confirmation();
  a.created_us = a.updated_us = c.now;
  c.account = &KeyDirectoryInternal::AddAccount(c.dir, account_id, std::move(a));
  c.detail = "account '" + c.account->name + "' created";
  return Status::Ok();
}

Status SetAccountConfig(OpContext& c, const fb::AccountConfigSet& op) {
  if (c.actor() == fb::ActorKind::Member) return Refuse(Code::kForbidden, "admin only");
  c.account->require_confirmation = op.require_confirmation();
  c.account->updated_us = c.now;
  c.detail = std::string("require_confirmation=") + (op.require_confirmation() ? "true" : "false");
  return Status::Ok();
}

}  // namespace keymeter::key_ops
