// The projector's part in threshold alerts (projections/alerts.h): requests count toward them
// (Projector::ApplyRequest), and an op that changes a key's limits or thresholds raises what
// the change crosses or resolves. Each alert raised is enqueued for the account's webhooks and
// the keymeter.alerts topic (projections/webhooks.h); the sender's records of what it delivered
// and published (WebhookAttempted, AlertsPublished) move them on.

#include "engine/projector.h"
#include "projections/webhooks.h"
#include "schemas/envelope.h"

namespace keymeter {

std::optional<AlertWatch> Projector::WatchBefore(const fb::Envelope& env) const {
  const fb::Op op = env.op_type();
  if (op != fb::Op::QuotaSet && op != fb::Op::MemberCapSet && op != fb::Op::AlertThresholdsSet &&
      op != fb::Op::CreditsAdded && op != fb::Op::CreditsConfigSet) {
    return std::nullopt;
  }
  const flatbuffers::String* text = KeyIdOf(env);
  const std::optional<KeyId> id = text != nullptr ? KeyId::Parse(text->string_view()) : std::nullopt;
  const KeyState* key = id ? directory_.FindKey(*id) : nullptr;
  if (key == nullptr) return std::nullopt;
  return AlertWatchOf(*key);
}

void Projector::RaiseAlertsOfChange(const AlertWatch& before, TimeUs time_us) {
  const KeyState* key = directory_.FindKey(before.key);
  if (key == nullptr) return;
  raised_.clear();
  AlertChanges(before, AlertWatchOf(*key), time_us, &raised_);
  PutRaisedAlerts();
}

void Projector::PutRaisedAlerts() {
  for (const Alert& a : raised_) {
    PutAlert(batch_.get(), store_.cfs()[Cf::kAlerts], a);
    ++(a.resolved ? stats_.alerts_resolved : stats_.alerts_crossed);
    const AccountState* account = directory_.FindAccount(a.account_id);
    EnqueueDeliveries(batch_.get(), store_.cfs()[Cf::kWebhooks], store_.cfs()[Cf::kOutbox],
                      a.account_id,
                      account != nullptr ? account->webhooks() : std::vector<WebhookState>(), a);
  }
}

Status Projector::ApplyDeliveryOp(const fb::Envelope& env) {
  ++stats_.ops_applied[std::string(OpName(env.op_type()))];
  if (env.actor() != nullptr && env.actor()->kind() != fb::ActorKind::System) {
    return Status(Code::kForbidden, "only keymeter's own sender records deliveries");
  }
  const AccountState* account = directory_.FindAccount(env.account_id()->string_view());
  if (account == nullptr) {
    return Status(Code::kNoSuchAccount, "account " + Str(env.account_id()) + " does not exist");
  }
  if (env.op_type() == fb::Op::AlertsPublished) {
    ApplyPublished(batch_.get(), store_.cfs()[Cf::kOutbox], account->account_id.str(),
                   *env.op_as_AlertsPublished());
    return Status::Ok();
  }
  const fb::WebhookAttempted& op = *env.op_as_WebhookAttempted();
  Status s = ApplyAttempt(batch_.get(), store_.cfs()[Cf::kWebhooks], store_.cfs()[Cf::kOutbox],
                          account->account_id.str(), account->webhooks(), op, env.time_us());
  if (s.ok()) ++stats_.webhook_attempts[op.delivered() ? 0 : op.next_attempt_us() != 0 ? 1 : 2];
  return s;
}

}  // namespace keymeter
