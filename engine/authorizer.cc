#include "engine/authorizer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>

#include "engine/authorize_probe.h"
#include "engine/reservations.h"
#include "engine/secrets.h"
#include "projections/allowed_sources.h"
#include "projections/key_directory.h"
#include "projections/quota.h"
#include "projections/time_buckets.h"

namespace keymeter {

namespace {

constexpr std::array<Code, 16> kReasons = {
    reason::kOk,
    reason::kMalformedKey,
    reason::kNotFound,
    reason::kPendingConfirmation,
    reason::kSuspended,
    reason::kDeleted,
    reason::kParentSuspended,
    reason::kAccountSuspended,
    reason::kForbiddenSource,
    reason::kForbiddenOrigin,
    reason::kForbiddenProduct,
    reason::kDailyQuotaExceeded,
    reason::kMonthlyQuotaExceeded,
    reason::kMemberCapExceeded,
    reason::kInvalidRequestId,
    reason::kReservationsFull,
};

bool IsWellFormedKey(std::string_view key) {
  return key.size() == kKeyLength && std::all_of(key.begin(), key.end(), IsKeyChar);
}

// The quotas that apply to one key; 0 = none.
struct Limits {
  uint64_t pool_day_requests = 0;
  uint64_t pool_month_units = 0;
  uint64_t member_day_requests = 0;
};

// What is counted already: usage plus live reservations.
struct Used {
  uint64_t pool_day_requests = 0;
  uint64_t pool_month_units = 0;
  uint64_t member_day_requests = 0;

  Used Plus(const HeldCounts& h) const {
    return {pool_day_requests + h.pool_day_requests, pool_month_units + h.pool_month_units,
            member_day_requests + h.member_day_requests};
  }
};

void Deny(AuthorizeResult* out, Code why, int status) {
  out->allowed = false;
  out->reason = why;
  out->http_status = status;
}

void Allow(AuthorizeResult* out) {
  out->allowed = true;
  out->reason = reason::kOk;
  out->http_status = 204;
}

// What `limit` leaves once `used` (+ `cost` when the request is admitted) is counted.
uint64_t Left(uint64_t limit, uint64_t used) {
  return limit == 0 ? AuthorizeResult::kUnlimited : limit - std::min(limit, used);
}

// Decides the quota step for a request of `units` on top of `used` and fills `out`. With
// `counted` the request is already in `used` (a reservation held before).
void EvaluateQuota(const Limits& limits, const Used& used, uint32_t units, bool counted,
                   AuthorizeResult* out) {
  const uint64_t requests = counted ? 0 : 1;
  const uint64_t cost = counted ? 0 : units;
  out->quota_evaluated = true;
  if (limits.pool_day_requests > 0 &&
      used.pool_day_requests + requests > limits.pool_day_requests) {
    Deny(out, reason::kDailyQuotaExceeded, 429);
  } else if (limits.pool_month_units > 0 &&
             used.pool_month_units + cost > limits.pool_month_units) {
    Deny(out, reason::kMonthlyQuotaExceeded, 429);
  } else if (limits.member_day_requests > 0 &&
             used.member_day_requests + requests > limits.member_day_requests) {
    Deny(out, reason::kMemberCapExceeded, 429);
  } else {
    Allow(out);
  }
  const uint64_t r = out->allowed ? requests : 0;
  const uint64_t u = out->allowed ? cost : 0;
  out->remaining_daily_requests =
      std::min(Left(limits.pool_day_requests, used.pool_day_requests + r),
               Left(limits.member_day_requests, used.member_day_requests + r));
  out->remaining_monthly_units = Left(limits.pool_month_units, used.pool_month_units + u);
}

}  // namespace

std::span<const Code> AllAuthorizeReasons() { return kReasons; }

void Authorizer::Authorize(const AuthorizeRequest& request, TimeUs now,
                           AuthorizeResult* out) const {
  const auto start = std::chrono::steady_clock::now();
  Decide(request, now, out);
  if (probe_ != nullptr) probe_->Decided(out->reason, std::chrono::steady_clock::now() - start);
}

void Authorizer::Decide(const AuthorizeRequest& request, TimeUs now, AuthorizeResult* out) const {
  out->identified = false;
  out->account_id.clear();
  out->key_id = KeyId();
  out->root_key_id = KeyId();
  out->quota_evaluated = false;
  out->remaining_daily_requests = AuthorizeResult::kUnlimited;
  out->remaining_monthly_units = AuthorizeResult::kUnlimited;
  out->reset_daily = DayStart(now) + kMicrosPerDay;
  out->reset_monthly = NextMonthStart(now);
  if (!IsWellFormedKey(request.key)) return Deny(out, reason::kMalformedKey, 401);
  std::optional<RequestIdBytes> request_id;
  if (request.reserve) {
    request_id = ParseRequestId(request.request_id);
    if (!request_id) return Deny(out, reason::kInvalidRequestId, 400);
  }
  // Hash outside the lock; every well-formed key pays for it, known or not.
  const Digest digest = Sha256(request.key);
  const KeyId id = *KeyId::Parse(request.key);

  std::shared_lock lock(state_);
  const KeyState* key = directory_.FindKey(id);
  if (key == nullptr) {
    // Compare anyway, so that the time taken does not tell whether the id exists.
    static constexpr Digest kNone{};
    [[maybe_unused]] volatile bool sink = DigestEqual(digest, kNone);
    return Deny(out, reason::kNotFound, 401);
  }
  const bool current = DigestEqual(digest, key->secret_hash);
  const KeyExtras& x = key->extras();
  const bool old =
      x.has_old_secret && now < x.grace_until_us && DigestEqual(digest, x.old_secret_hash);
  if (!current && !old) return Deny(out, reason::kNotFound, 401);

  out->identified = true;
  out->account_id.assign(key->account_id);
  out->key_id = key->id;
  const KeyId root = directory_.RootOf(*key);
  out->root_key_id = root;
  const AccountState* account = directory_.FindAccount(key->account_id);
  if (account != nullptr && account->suspended) return Deny(out, reason::kAccountSuspended, 403);
  switch (key->status) {
    case fb::KeyStatus::Deleted:
      return Deny(out, reason::kDeleted, 403);
    case fb::KeyStatus::Suspended:
      return Deny(out, reason::kSuspended, 403);
    case fb::KeyStatus::Pending: {
      if (account != nullptr && account->require_confirmation) {
        return Deny(out, reason::kPendingConfirmation, 403);
      }
      break;
    }
    default:
      break;
  }
  if (key->is_child()) {
    const KeyState* parent = directory_.FindKey(key->parent);
    if (parent == nullptr || parent->status == fb::KeyStatus::Suspended ||
        parent->status == fb::KeyStatus::Deleted) {
      return Deny(out, reason::kParentSuspended, 403);
    }
  }
  if (const AllowedSources& sources = key->extras().sources; !sources.empty()) {
    const std::optional<IpAddress> ip = ParseIp(request.ip);
    if (!ip || !sources.AllowsIp(*ip)) return Deny(out, reason::kForbiddenSource, 403);
  }
  if (const std::vector<std::string>& domains = key->extras().domains; !domains.empty()) {
    if (!DomainAllowed(domains, OriginHost(request.origin))) {
      return Deny(out, reason::kForbiddenOrigin, 403);
    }
  }
  if (!directory_.EffectiveConfig(*key).AllowsProduct(request.product)) {
    return Deny(out, reason::kForbiddenProduct, 403);
  }

  const KeyState* root_key = root == key->id ? key : directory_.FindKey(root);
  Limits limits;
  if (root_key != nullptr) {
    limits.pool_day_requests = root_key->daily_requests;
    limits.pool_month_units = root_key->monthly_units;
  }
  if (key->is_child()) limits.member_day_requests = key->member_cap;
  const QuotaWindow pool = quota_.Pool(root);
  Used used{.pool_day_requests = pool.DayRequests(now), .pool_month_units = pool.MonthUnits(now)};
  if (root != key->id) used.member_day_requests = quota_.Member(key->id).DayRequests(now);

  if (!request.reserve) {
    EvaluateQuota(limits, used.Plus(reservations_.Held(root, key->id, now)), request.units, false,
                  out);
    return;
  }
  HeldCounts held;
  const ReserveOutcome outcome = reservations_.Reserve(
      key->account_id, root, key->id, *request_id, request.units, now,
      [&](const HeldCounts& h) {
        EvaluateQuota(limits, used.Plus(h), request.units, false, out);
        return out->allowed;
      },
      &held);
  switch (outcome) {
    case ReserveOutcome::kReserved:
    case ReserveOutcome::kDenied:
      return;  // decided by EvaluateQuota above
    case ReserveOutcome::kAlreadyHeld:
      // A retry: the earlier call admitted it and its hold is in `held`.
      EvaluateQuota(limits, used.Plus(held), request.units, true, out);
      return Allow(out);
    case ReserveOutcome::kFull:
      return Deny(out, reason::kReservationsFull, 503);
  }
}

}  // namespace keymeter
