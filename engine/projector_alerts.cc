// The projector's part in threshold alerts (projections/alerts.h): requests count toward them
// (Projector::ApplyRequest), and an op that changes a key's limits or thresholds raises what
// the change crosses or resolves.

#include "engine/projector.h"
#include "schemas/envelope.h"

namespace keymeter {

std::optional<AlertWatch> Projector::WatchBefore(const fb::Envelope& env) const {
  const fb::Op op = env.op_type();
  if (op != fb::Op::QuotaSet && op != fb::Op::MemberCapSet && op != fb::Op::AlertThresholdsSet) {
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
  }
}

}  // namespace keymeter
