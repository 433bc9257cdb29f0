// Corrections of closed months (DESIGN §1 billing; docs/api.md "Corrections").
//
//   UsageAdjusted := FORBIDDEN (a member)
//                  | NO-SUCH-API-KEY | UNABLE-TO-CHANGE-NOT-OWN-API-KEY (the key; a deleted one
//                    may still be corrected: its past usage is billed)
//                  | INVALID-ADJUSTMENT (not a month start; nothing to add; over 10^12 either way;
//                    a reason over 512 bytes)
//                  | MONTH-NOT-CLOSED (the month ends after `closed_before`: its figures still move)
//                  | OK: the month's version + 1, an adjustments row, the account rewritten
//
// What was counted is never changed: billing and export add the corrections beside it.

#include "projections/adjustments.h"
#include "projections/key_ops_internal.h"
#include "projections/time_buckets.h"

namespace keymeter {
namespace key_ops {

namespace {

constexpr int64_t kMaxAdjustment = 1'000'000'000'000;
constexpr size_t kMaxReasonBytes = 512;

}  // namespace

Status AdjustUsage(OpContext& c, const fb::UsageAdjusted& op) {
  if (c.actor() == fb::ActorKind::Member) {
    return Refuse(Code::kForbidden, "a member may not correct usage");
  }
  const std::string text = Str(op.key_id());
  c.target_key_id = text.substr(0, kKeyIdLength);
  std::optional<KeyId> id = KeyId::Parse(text);
  const KeyState* key = id ? c.dir.FindKey(*id) : nullptr;
  if (key == nullptr || !c.Sees(*key)) return Refuse(Code::kNoSuchApiKey, "no key '" + text + "'");
  if (key->account_id != c.account->account_id) {
    return Refuse(Code::kUnableToChangeNotOwnApiKey, "the key belongs to another account");
  }
  const TimeUs month = op.month_start_us();
  if (month <= 0 || MonthStart(month) != month) {
    return Refuse(Code::kInvalidAdjustment, "month_start_us is not the start of a UTC month");
  }
  if ((op.requests() == 0 && op.units() == 0) || op.requests() > kMaxAdjustment ||
      op.requests() < -kMaxAdjustment || op.units() > kMaxAdjustment ||
      op.units() < -kMaxAdjustment) {
    return Refuse(Code::kInvalidAdjustment,
                  "requests and units: not both zero, each within ±1,000,000,000,000");
  }
  if (Str(op.reason()).size() > kMaxReasonBytes) {
    return Refuse(Code::kInvalidAdjustment, "reason: at most 512 bytes");
  }
  if (NextMonthStart(month) > c.closed_before) {
    return Refuse(Code::kMonthNotClosed,
                  "the month is not complete yet in its partition: its figures still move");
  }
  auto& months = c.account->extras.mutable_get().adjusted_months;
  auto at = std::find_if(months.begin(), months.end(),
                         [&](const auto& m) { return m.first >= month; });
  if (at == months.end() || at->first != month) at = months.insert(at, {month, 0});
  const uint64_t version = ++at->second;
  Adjustment a{.key_id = key->id.str(),
               .month_start_us = month,
               .version = version,
               .requests = op.requests(),
               .units = op.units(),
               .reason = Str(op.reason()),
               .time_us = c.now,
               .command_id = Str(c.env.command_id()),
               .actor_kind = c.actor(),
               .actor_key_id = c.env.actor() ? Str(c.env.actor()->key_id()) : std::string()};
  PutAdjustment(c.batch, KeyDirectoryInternal::Handle(c.dir, Cf::kAdjustments),
                c.account->account_id.str(), a);
  c.detail = FormatRfc3339(month).substr(0, 7) + " version " + std::to_string(version) +
             ": requests " + std::to_string(op.requests()) + ", units " +
             std::to_string(op.units()) + (a.reason.empty() ? "" : " (" + a.reason + ")");
  return Status::Ok();
}

}  // namespace key_ops
}  // namespace keymeter
