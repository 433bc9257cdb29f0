// Authorizer: decides `authorize` (DESIGN §3, Gateway) from the in-memory projections — the key
// directory, the quota windows and the live reservations — without touching disk.
//
// Decision order; the first check that fails is the reason (HTTP status for GET /v1/authorize):
//   1. the key is 24 characters of [A-Za-z0-9]                       else MALFORMED_KEY (401)
//   1b. the projections are loaded: a reload after a storage fault that failed midway leaves
//      them half loaded (set_freshness's projector says so)             else STORAGE-ERROR (503)
//   2. its id exists and SHA-256(key) equals the secret hash (constant-time compare), or the old
//      secret's while now < grace_until                               else NOT_FOUND (401):
//      a wrong secret looks exactly like an unknown id, existence never leaks
//   3. the key's account is suspended by the operator → ACCOUNT_SUSPENDED             (403)
//      status: deleted → DELETED, suspended → SUSPENDED, pending while the account requires
//      confirmation → PENDING_CONFIRMATION                                             (403)
//   4. a child whose parent is suspended or deleted → PARENT_SUSPENDED                 (403)
//   5. the key's own allowed IPs/CIDRs (v4 and v6) contain the client ip; an ip that does not
//      parse is refused when the key has a list → FORBIDDEN_SOURCE                      (403)
//      the key's own allowed domains (each key its own list: a child is checked on its own)
//      hold the calling site's host (`origin`: an Origin or Referer value, or a host; see
//      DomainAllowed); a key with domains and a request without an origin → FORBIDDEN_ORIGIN (403)
//   6. the effective config (a child's is its parent's) allows the product; with a product list
//      set, an empty product is refused → FORBIDDEN_PRODUCT                             (403)
//   4b. now (wall time) at or past the key's expiry, or its parent's → EXPIRED           (403)
//   7. quotas and limits, counting usage PLUS live reservations, in this order: the root pool's
//      daily requests → DAILY_QUOTA_EXCEEDED, its monthly units (used + units > quota) →
//      MONTHLY_QUOTA_EXCEEDED, its credits (balance as of now, refills due counted, less the
//      units reservations hold, below the request's units) → CREDITS_EXHAUSTED, the child's
//      daily and monthly member caps → MEMBER_CAP_EXCEEDED, then the rate limits: the pool's
//      per second, minute, hour, the child's own per second, minute, hour → RATE_LIMITED (429).
//      A quota or limit of 0 is none. Rate windows are aligned UTC seconds, minutes and hours
//      (projections/limits.h): with `reserve` a burst admits exactly the limit in each window;
//      without it, requests whose events are still on their way through the log are not counted
//      yet, so a window may admit up to (limit + what was admitted in it but not yet applied).
//   8. with `reserve`, the admitted request is held in Reservations (check and add are atomic,
//      so a burst admits exactly what the quota leaves); a full reservation table →
//      RESERVATIONS_FULL (503). A retried reserve of a request id already held is allowed again
//      without a second hold. A `reserve` whose request_id is not 32 hex digits or a UUID is
//      INVALID_REQUEST_ID (400), checked right after step 1.
// Allowed: OK (204).
//
// `remaining` is what the quota leaves AFTER this request when allowed (as of now; a request not
// reserved is only counted once its event is applied), 0 when denied by that quota, and
// kUnlimited when no quota applies. `remaining_daily_requests` is the smaller of the pool's and
// the member cap's. Resets are the next UTC midnight and the next UTC month start.
//
// Thread safety: Authorize() is thread-safe; it holds the projector's state mutex shared while it
// reads the directory and the quota windows (and Reservations' mutex inside that, never the
// other way round). No allocation on the hot path except `account_id` growing past a reused
// result's capacity.

#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>

#include "engine/freshness.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace keymeter {

class AuthorizeProbe;
class KeyDirectory;
class Projector;
class QuotaWindows;
class Reservations;

// The reasons, as codes (schemas/status.h); their text is HttpName().
namespace reason {
inline constexpr Code kOk = Code::kOk;
inline constexpr Code kMalformedKey = Code::kMalformedKey;
inline constexpr Code kNotFound = Code::kNotFound;
inline constexpr Code kPendingConfirmation = Code::kPendingConfirmation;
inline constexpr Code kSuspended = Code::kSuspended;
inline constexpr Code kDeleted = Code::kDeleted;
inline constexpr Code kParentSuspended = Code::kParentSuspended;
inline constexpr Code kAccountSuspended = Code::kAccountSuspended;
inline constexpr Code kForbiddenSource = Code::kForbiddenSource;
inline constexpr Code kForbiddenOrigin = Code::kForbiddenOrigin;
inline constexpr Code kForbiddenProduct = Code::kForbiddenProduct;
inline constexpr Code kDailyQuotaExceeded = Code::kDailyQuotaExceeded;
inline constexpr Code kMonthlyQuotaExceeded = Code::kMonthlyQuotaExceeded;
inline constexpr Code kMemberCapExceeded = Code::kMemberCapExceeded;
inline constexpr Code kInvalidRequestId = Code::kInvalidRequestId;
inline constexpr Code kReservationsFull = Code::kReservationsFull;
inline constexpr Code kExpired = Code::kExpired;
inline constexpr Code kRateLimited = Code::kRateLimited;
inline constexpr Code kCreditsExhausted = Code::kCreditsExhausted;
inline constexpr Code kStorageError = Code::kStorageError;
}  // namespace reason

// Every reason Authorize() can give (for metrics).
std::span<const Code> AllAuthorizeReasons();

struct AuthorizeRequest {
  std::string_view key;
  std::string_view ip;
  std::string_view product;
  uint32_t units = 1;
  bool reserve = false;
  std::string_view request_id;  // required with `reserve`
  std::string_view origin;      // the calling site (X-Origin, Origin or Referer); may be empty
};

struct AuthorizeResult {
  static constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

  bool allowed = false;
  Code reason = reason::kMalformedKey;  // one of the reason:: constants
  int http_status = 401;
  // Set once the key and its secret are verified (every reason but MALFORMED_KEY, NOT_FOUND);
  // the ids below are empty otherwise.
  bool identified = false;
  std::string account_id;
  KeyId key_id;
  KeyId root_key_id;
  // Set when the quota step was reached (OK and the 429/503 reasons).
  bool quota_evaluated = false;
  uint64_t remaining_daily_requests = kUnlimited;
  uint64_t remaining_monthly_units = kUnlimited;
  TimeUs reset_daily = 0;    // next UTC midnight after `now`
  TimeUs reset_monthly = 0;  // next UTC month start after `now`
  // The pool's credits, when it has them on: what they leave after this request.
  bool credits_evaluated = false;
  int64_t remaining_credits = 0;
  // A 429's: when the window that denied resets (for Retry-After); 0 when unknown (credits
  // without a refill).
  TimeUs retry_after = 0;
  // The request windows that apply (daily caps and rate limits) for the RateLimit fields: each
  // one's limit and length, and the one that denied (else the one with the least left).
  struct Policy {
    uint64_t limit = 0;
    uint32_t seconds = 0;
  };
  struct WindowState {
    uint64_t limit = 0;  // 0: no request window applies
    uint64_t remaining = 0;
    TimeUs reset = 0;
    uint32_t seconds = 0;
  };
  std::array<Policy, 8> policies{};
  uint8_t policy_count = 0;
  WindowState window;
  // Set once the key is verified, when the authorizer knows the projector: how fresh the
  // state this decision was made from is (its account's partition).
  bool fresh_known = false;
  Freshness freshness;
};

class Authorizer {
 public:
  // Everything by reference must outlive the authorizer; `state` guards `directory` and `quota`
  // (the projector's state_mutex()). `probe` may be null.
  Authorizer(std::shared_mutex& state, const KeyDirectory& directory, const QuotaWindows& quota,
             Reservations& reservations, AuthorizeProbe* probe = nullptr)
      : state_(state),
        directory_(directory),
        quota_(quota),
        reservations_(reservations),
        probe_(probe) {}

  // Reports each verified key's freshness (AuthorizeResult::freshness) from `projector`, whose
  // state mutex is the one given above, and answers 503 STORAGE-ERROR while its projections
  // are half loaded (Projector::loaded_locked). Set before the first call; may stay unset.
  void set_freshness(const Projector* projector) { projector_ = projector; }

  // Decides `request` at wall time `now` into `*out` (every field is overwritten; reusing one
  // result per thread reuses `account_id`'s buffer).
  void Authorize(const AuthorizeRequest& request, TimeUs now, AuthorizeResult* out) const;
  AuthorizeResult Authorize(const AuthorizeRequest& request, TimeUs now) const {
    AuthorizeResult result;
    Authorize(request, now, &result);
    return result;
  }

 private:
  void Decide(const AuthorizeRequest& request, TimeUs now, AuthorizeResult* out) const;

  std::shared_mutex& state_;
  const KeyDirectory& directory_;
  const QuotaWindows& quota_;
  Reservations& reservations_;
  AuthorizeProbe* const probe_;
  const Projector* projector_ = nullptr;
};

}  // namespace keymeter
