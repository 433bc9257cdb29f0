// Quota windows: the current UTC day's requests and the current UTC month's units of every root
// key's pool, and of every child (for its member caps); and, for keys with rate limits
// (projections/limits.h), their requests in the current second, minute and hour — as a pool
// for a root key, as a member for a child. This is what `authorize` compares with the quotas
// and limits; it lives in memory only and is restored from the usage projection when the store
// opens: days, months and the hour; a second or minute window in progress at a restart starts
// again from zero.
//
// Each window counts the two latest UTC days (months) its events fell in, apart: an event of a
// later day starts that day's count beside the current one, so a future-dated event (up to the
// projector's tolerance ahead, just past midnight) never resets today's count, and `authorize`
// reads the count of the day holding `now`. An event older than both (a late event) is counted
// in usage but leaves the window alone.
//
// Thread safety: not thread-safe; the engine serializes writers (the projector) and readers.

#pragma once

#include "absl/container/flat_hash_map.h"
#include "projections/limits.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace keymeter {

class KeyDirectory;

// The counts of the two latest periods (days or months) seen, by period start.
struct PeriodCounts {
  TimeUs start[2] = {0, 0};  // [0] the latest period, [1] the one before it seen
  uint64_t count[2] = {0, 0};

  // Adds `n` to the period starting at `period`: a period later than both replaces the older
  // one; one older than both is dropped.
  void Add(TimeUs period, uint64_t n);
  // The count of the period starting at `period`; 0 when it is not held.
  uint64_t At(TimeUs period) const;
};

struct QuotaWindow {
  PeriodCounts days;    // requests per UTC day
  PeriodCounts months;  // units per UTC month

  void Count(TimeUs t, uint64_t requests, uint64_t units);
  // The counts of the day (month) holding `now`: zero for one not held.
  uint64_t DayRequests(TimeUs now) const;
  uint64_t MonthUnits(TimeUs now) const;
  TimeUs latest_day() const { return days.start[0]; }
  TimeUs latest_month() const { return months.start[0]; }
};

// Requests per aligned second, minute and hour of one pool or member with rate limits.
struct RateCounts {
  PeriodCounts windows[kRateWindows];

  void Count(TimeUs t, uint64_t requests) {
    for (int w = 0; w < kRateWindows; ++w) windows[w].Add(RateWindowStart(w, t), requests);
  }
  // The count of window kind `w` holding `now`.
  uint64_t At(int w, TimeUs now) const { return windows[w].At(RateWindowStart(w, now)); }
};

class QuotaWindows {
 public:
  // Counts one request of `key`, whose pool is `root`'s (the same id for a root key); in the
  // rate windows of the pool when `pool_rated`, of the member (a child) when `member_rated`.
  void Count(KeyId key, KeyId root, TimeUs t, uint32_t units, bool pool_rated = false,
             bool member_rated = false);

  // Starts loading the slots Count() will touch for `key` (as a pool and as a member).
  void Prefetch(KeyId key) const {
    pools_.prefetch(key);
    members_.prefetch(key);
  }
  // The pool of a root key, and the member window of a child; empty windows when unseen.
  QuotaWindow Pool(KeyId root) const;
  QuotaWindow Member(KeyId key) const;
  // The rate windows of a pool (root key) or member (child); empty when unseen.
  RateCounts Rates(KeyId key) const;
  // Forgets the windows of `key` (as a pool and as a member).
  void Forget(KeyId key) {
    pools_.erase(key);
    members_.erase(key);
    rates_.erase(key);
  }

  // Rebuilds every window for the day and month holding `now` from the usage column family.
  Status Restore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* usage, const KeyDirectory& dir,
                 TimeUs now);

  size_t size() const { return pools_.size() + members_.size() + rates_.size(); }

 private:
  absl::flat_hash_map<KeyId, QuotaWindow> pools_;
  absl::flat_hash_map<KeyId, QuotaWindow> members_;
  absl::flat_hash_map<KeyId, RateCounts> rates_;  // keys with rate limits only
};

}  // namespace keymeter
