// Reservations: requests that `authorize` with `reserve` admitted and whose request event has
// not been applied yet (DESIGN §2, "Exact quotas"). Each holds, until it turns into usage or
// expires, one request and its units in its root pool and one request in its member window, so
// that a burst cannot overshoot a quota while its events are still on their way through the log.
//
// Contract:
// - A reservation is named by (key id, request id) and belongs to the UTC day and month (and,
//   for a pool or member with rate limits, the second, minute and hour) of the wall time it was
//   made at: one made at 23:59:59 counts in that day's window only.
// - Reserve() decides and adds atomically: it hands the counts already held (for the pool, the
//   month and the member, as of `now`) to `admit`, and adds the reservation only if `admit`
//   returns true. Two concurrent Reserve() calls can't both take the last unit of a quota.
//   A second Reserve() of a (key, request id) already held is kAlreadyHeld (a gateway retry):
//   nothing is added and `admit` is not asked.
// - Beyond `max_reservations` held, or `max_per_account` held for the reserving key's account
//   (its fair share: one account with an unlimited key can't fill the table for everyone),
//   Reserve() answers kFull and adds nothing; authorize reports it as RESERVATIONS_FULL (HTTP 503
//   on GET /v1/authorize), a capacity problem, not a quota decision.
// - OnRequestApplied() is the projector's hook: called after the request event with that
//   (key, request id) was counted in the quota windows, it removes the reservation so the request
//   is counted once. Unknown ids are ignored (most requests are never reserved). Should that
//   batch's commit fail, the projector reloads its windows from the store and the request counts
//   nowhere until the log re-delivers it: a short window in which a quota may overshoot.
// - Reservations never matched expire `ttl_us` after they were made (checked lazily on each
//   call that passes `now`). A request event applied BEFORE its reserve call is not matched: that
//   reservation is counted until it expires.
//
// Thread safety: thread-safe; one internal mutex. Lock order: callers may hold the projector's
// state mutex (shared or exclusive) when they call in; this class never calls out while locked,
// except `admit`, which must not call back into this object.
//
// Memory: bounded by max_reservations entries (plus an expiry queue compacted to at most about
// twice the live entries).

#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "projections/dedupe.h"
#include "projections/limits.h"
#include "projections/time_buckets.h"
#include "schemas/ids.h"

namespace keymeter {

struct ReservationOptions {
  TimeUs ttl_us = 60 * kMicrosPerSecond;
  size_t max_reservations = 1'000'000;
  size_t max_per_account = 62'500;  // a sixteenth of the table
};

// Counts held by live reservations in the windows holding `now`.
struct HeldCounts {
  uint64_t pool_day_requests = 0;    // root pool, this UTC day
  uint64_t pool_month_units = 0;     // root pool, this UTC month
  uint64_t member_day_requests = 0;  // the reserving child, this UTC day (0 for a root key)
  uint64_t member_month_units = 0;   // the reserving child, this UTC month
  // Requests in this second, minute and hour (projections/limits.h) of the pool and of the
  // member, counted only for what RateScope names.
  uint64_t pool_rate[kRateWindows] = {};
  uint64_t member_rate[kRateWindows] = {};
};

// Which rate windows a reservation counts in: the pool's and the member's (a child's), each
// only when it has rate limits.
struct RateScope {
  bool pool = false;
  bool member = false;
};

enum class ReserveOutcome { kReserved, kAlreadyHeld, kDenied, kFull };

class Reservations {
 public:
  explicit Reservations(ReservationOptions options = {}) : options_(options) {}
  Reservations(const Reservations&) = delete;
  Reservations& operator=(const Reservations&) = delete;

  // What live reservations hold for pool `root` and member `key` (== root for a root key).
  // Cheap when nothing is reserved (no lock taken).
  HeldCounts Held(KeyId root, KeyId key, TimeUs now, RateScope rated = {});

  // See the contract above. `held` (optional) receives the counts `admit` saw (or, for
  // kAlreadyHeld, the counts including the held reservation).
  // `account_id` is the reserving key's account (for its share of the table).
  ReserveOutcome Reserve(std::string_view account_id, KeyId root, KeyId key,
                         const RequestIdBytes& request_id, uint32_t units, TimeUs now,
                         absl::FunctionRef<bool(const HeldCounts&)> admit,
                         HeldCounts* held = nullptr, RateScope rated = {});

  // The projector's hook; see the contract above.
  void OnRequestApplied(KeyId root, KeyId key, const RequestIdBytes& request_id);

  // Live reservations (expired ones may still be counted until the next call with `now`).
  size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  using Name = std::pair<KeyId, RequestIdBytes>;
  using Window = std::pair<KeyId, TimeUs>;  // (root or key, window start)
  struct Entry {
    KeyId root;
    uint64_t account = 0;  // StableHash of the account id
    TimeUs day_start = 0;
    TimeUs month_start = 0;
    TimeUs now = 0;  // when it was made: its rate windows are the ones holding it
    uint32_t units = 0;
    RateScope rated;
    uint64_t seq = 0;  // tells a live entry from a stale expiry-queue item
  };
  struct Expiry {
    TimeUs at = 0;
    uint64_t seq = 0;
    Name name;
  };

  HeldCounts HeldLocked(KeyId root, KeyId key, TimeUs now, RateScope rated) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLocked(TimeUs now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLocked(const Name& name, const Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ReservationOptions options_;
  std::atomic<size_t> size_{0};  // mirrors entries_.size() for the lock-free fast path
  mutable std::mutex mu_;
  absl::flat_hash_map<Name, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<Expiry> expiries_ ABSL_GUARDED_BY(mu_);  // in order of `at` (made with one TTL)
  absl::flat_hash_map<Window, uint64_t> pool_day_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Window, uint64_t> pool_month_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Window, uint64_t> member_day_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Window, uint64_t> member_month_ ABSL_GUARDED_BY(mu_);
  // Per window kind: (pool or member, window start) -> requests.
  absl::flat_hash_map<Window, uint64_t> rate_[kRateWindows] ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, size_t> per_account_ ABSL_GUARDED_BY(mu_);  // live entries
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keymeter
