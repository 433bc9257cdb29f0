#include "engine/authorizer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>

#include "engine/authorize_probe.h"
#include "engine/projector.h"
#include "engine/reservations.h"
#include "engine/secrets.h"
#include "projections/allowed_sources.h"
#include "projections/key_directory.h"
#include "projections/limits.h"
#include "projections/quota.h"
#include "projections/time_buckets.h"

namespace keymeter {

namespace {

constexpr std::array<Code, 20> kReasons = {
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
    reason::kExpired,
    reason::kRateLimited,
    reason::kCreditsExhausted,
    reason::kStorageError,
};

bool IsWellFormedKey(std::string_view key) {
  return key.size() == kKeyLength && std::all_of(key.begin(), key.end(), IsKeyChar);
}

// The quotas and limits that apply to one key; 0 = none.
struct Limits {
  uint64_t pool_day_requests = 0;
  uint64_t pool_month_units = 0;
  uint64_t member_day_requests = 0;
  uint64_t member_month_units = 0;
  uint64_t pool_rate[kRateWindows] = {};
  uint64_t member_rate[kRateWindows] = {};
  bool credits = false;     // the pool spends credits
  int64_t balance = 0;      // its balance as of now (refills due counted)
  TimeUs next_refill = 0;   // 0 = none
};

// What is counted already: usage plus live reservations.
struct Used {
  uint64_t pool_day_requests = 0;
  uint64_t pool_month_units = 0;
  uint64_t member_day_requests = 0;
  uint64_t member_month_units = 0;
  uint64_t pool_rate[kRateWindows] = {};
  uint64_t member_rate[kRateWindows] = {};
  int64_t held_units = 0;  // units reservations hold: not spent from the credits yet

  Used Plus(const HeldCounts& h) const {
    Used u = *this;
    u.pool_day_requests += h.pool_day_requests;
    u.pool_month_units += h.pool_month_units;
    u.held_units += int64_t(std::min<uint64_t>(h.pool_month_units, INT64_MAX));
    u.member_day_requests += h.member_day_requests;
    u.member_month_units += h.member_month_units;
    for (int w = 0; w < kRateWindows; ++w) {
      u.pool_rate[w] += h.pool_rate[w];
      u.member_rate[w] += h.member_rate[w];
    }
    return u;
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

// One request window (a rate limit or a daily cap): its limit, its count, when it resets.
struct Window {
  uint64_t limit = 0;
  uint64_t used = 0;
  TimeUs reset = 0;
  uint32_t seconds = 0;
};

// Decides the quota step for a request of `units` on top of `used` and fills `out`. With
// `counted` the request is already in `used` (a reservation held before).
void EvaluateQuota(const Limits& limits, const Used& used, uint32_t units, bool counted, TimeUs now,
                   AuthorizeResult* out) {
  const uint64_t requests = counted ? 0 : 1;
  const uint64_t cost = counted ? 0 : units;
  out->quota_evaluated = true;
  const TimeUs day_end = out->reset_daily;
  // The request windows, in the order they are checked after the unit quotas.
  std::array<Window, 2 + 2 * kRateWindows> windows;
  size_t n = 0;
  windows[n++] = {limits.pool_day_requests, used.pool_day_requests, day_end, 86'400};
  windows[n++] = {limits.member_day_requests, used.member_day_requests, day_end, 86'400};
  for (const auto& [limit, count] : {std::pair(limits.pool_rate, used.pool_rate),
                                     std::pair(limits.member_rate, used.member_rate)}) {
    for (int w = 0; w < kRateWindows; ++w) {
      windows[n++] = {limit[w], count[w], RateWindowStart(w, now) + kRateWindowUs[w],
                      uint32_t(kRateWindowUs[w] / kMicrosPerSecond)};
    }
  }
  auto over = [&](const Window& w) { return w.limit > 0 && w.used + requests > w.limit; };
  const Window* denied_by = nullptr;
  out->retry_after = 0;
  if (over(windows[0])) {
    Deny(out, reason::kDailyQuotaExceeded, 429);
    denied_by = &windows[0];
  } else if (limits.pool_month_units > 0 &&
             used.pool_month_units + cost > limits.pool_month_units) {
    Deny(out, reason::kMonthlyQuotaExceeded, 429);
    out->retry_after = out->reset_monthly;
  } else if (limits.credits && SaturatingAdd(limits.balance, -used.held_units) < int64_t(cost)) {
    Deny(out, reason::kCreditsExhausted, 429);
    out->retry_after = limits.next_refill;
  } else if (over(windows[1])) {
    Deny(out, reason::kMemberCapExceeded, 429);
    denied_by = &windows[1];
  } else if (limits.member_month_units > 0 &&
             used.member_month_units + cost > limits.member_month_units) {
    Deny(out, reason::kMemberCapExceeded, 429);
    out->retry_after = out->reset_monthly;
  } else {
    Allow(out);
    for (size_t i = 2; i < n; ++i) {
      if (over(windows[i])) {
        Deny(out, reason::kRateLimited, 429);
        denied_by = &windows[i];
        break;
      }
    }
  }
  if (denied_by != nullptr) out->retry_after = denied_by->reset;
  const uint64_t r = out->allowed ? requests : 0;
  const uint64_t u = out->allowed ? cost : 0;
  out->remaining_daily_requests =
      std::min(Left(limits.pool_day_requests, used.pool_day_requests + r),
               Left(limits.member_day_requests, used.member_day_requests + r));
  out->remaining_monthly_units =
      std::min(Left(limits.pool_month_units, used.pool_month_units + u),
               Left(limits.member_month_units, used.member_month_units + u));
  out->credits_evaluated = limits.credits;
  // Units that reservations hold are as good as spent.
  out->remaining_credits =
      limits.credits ? std::max<int64_t>(0, SaturatingAdd(limits.balance, -used.held_units - int64_t(u)))
                     : 0;
  // RateLimit-*: the window that denied, else the one with the least left (the shorter on a tie).
  out->policy_count = 0;
  out->window = {};
  for (size_t i = 0; i < n; ++i) {
    const Window& w = windows[i];
    if (w.limit == 0) continue;
    out->policies[out->policy_count++] = {w.limit, w.seconds};
    const uint64_t left = Left(w.limit, w.used + r);
    const bool tighter = out->window.limit == 0 || left < out->window.remaining ||
                         (left == out->window.remaining && w.seconds < out->window.seconds);
    if (denied_by == nullptr ? tighter : &w == denied_by) {
      out->window = {w.limit, left, w.reset, w.seconds};
    }
  }
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
  out->credits_evaluated = false;
  out->remaining_credits = 0;
  out->retry_after = 0;
  out->window = {};
  out->policy_count = 0;
  out->fresh_known = false;
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
  // A reload after a storage fault failed midway: what memory holds is not the store.
  if (projector_ != nullptr && !projector_->loaded_locked()) {
    return Deny(out, reason::kStorageError, 503);
  }
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
  if (projector_ != nullptr) {
    if (std::optional<Freshness> f = projector_->FreshnessOf(out->account_id)) {
      out->fresh_known = true;
      out->freshness = *f;
    }
  }
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
  if (const TimeUs expires = directory_.ExpiresAt(*key); expires != 0 && now >= expires) {
    return Deny(out, reason::kExpired, 403);
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
  RateScope rated;
  if (root_key != nullptr) {
    limits.pool_day_requests = root_key->daily_requests;
    limits.pool_month_units = root_key->monthly_units;
    if (root_key->has_extras()) {
      const KeyExtras& rx = root_key->extras();
      rated.pool = rx.rate.any();
      limits.pool_rate[0] = rx.rate.per_second;
      limits.pool_rate[1] = rx.rate.per_minute;
      limits.pool_rate[2] = rx.rate.per_hour;
      limits.credits = rx.credits.enabled;
      if (limits.credits) {
        limits.balance = BalanceAt(rx.credits, now);
        limits.next_refill = NextRefill(rx.credits, now);
      }
    }
  }
  if (key->is_child()) {
    limits.member_day_requests = key->member_cap;
    limits.member_month_units = x.member_monthly_units;
    rated.member = x.rate.any();
    limits.member_rate[0] = x.rate.per_second;
    limits.member_rate[1] = x.rate.per_minute;
    limits.member_rate[2] = x.rate.per_hour;
  }
  const QuotaWindow pool = quota_.Pool(root);
  Used used{.pool_day_requests = pool.DayRequests(now), .pool_month_units = pool.MonthUnits(now)};
  if (root != key->id) {
    const QuotaWindow member = quota_.Member(key->id);
    used.member_day_requests = member.DayRequests(now);
    used.member_month_units = member.MonthUnits(now);
  }
  if (rated.pool || rated.member) {
    const RateCounts pool_rates = rated.pool ? quota_.Rates(root) : RateCounts();
    const RateCounts member_rates = rated.member ? quota_.Rates(key->id) : RateCounts();
    for (int w = 0; w < kRateWindows; ++w) {
      used.pool_rate[w] = pool_rates.At(w, now);
      used.member_rate[w] = member_rates.At(w, now);
    }
  }

  if (!request.reserve) {
    EvaluateQuota(limits, used.Plus(reservations_.Held(root, key->id, now, rated)), request.units,
                  false, now, out);
    return;
  }
  HeldCounts held;
  const ReserveOutcome outcome = reservations_.Reserve(
      key->account_id, root, key->id, *request_id, request.units, now,
      [&](const HeldCounts& h) {
        EvaluateQuota(limits, used.Plus(h), request.units, false, now, out);
        return out->allowed;
      },
      &held, rated);
  switch (outcome) {
    case ReserveOutcome::kReserved:
    case ReserveOutcome::kDenied:
      return;  // decided by EvaluateQuota above
    case ReserveOutcome::kAlreadyHeld:
      // A retry: the earlier call admitted it and its hold is in `held`.
      EvaluateQuota(limits, used.Plus(held), request.units, true, now, out);
      return Allow(out);
    case ReserveOutcome::kFull:
      return Deny(out, reason::kReservationsFull, 503);
  }
}

}  // namespace keymeter
