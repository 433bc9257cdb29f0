// Quota windows: the current UTC day's requests and the current UTC month's units of every root
// key's pool, and the current day's requests of every child (for its member cap). This is what
// `authorize` compares with the quotas; it lives in memory only and is restored from the usage
// projection when the store opens.
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

class QuotaWindows {
 public:
  // Counts one request of `key`, whose pool is `root`'s (the same id for a root key).
  void Count(KeyId key, KeyId root, TimeUs t, uint32_t units);

  // The pool of a root key, and the member window of a child; empty windows when unseen.
  QuotaWindow Pool(KeyId root) const;
  QuotaWindow Member(KeyId key) const;
  // Forgets the windows of `key` (as a pool and as a member).
  void Forget(KeyId key) {
    pools_.erase(key);
    members_.erase(key);
  }

  // Rebuilds every window for the day and month holding `now` from the usage column family.
  Status Restore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* usage, const KeyDirectory& dir,
                 TimeUs now);

  size_t size() const { return pools_.size() + members_.size(); }

 private:
  absl::flat_hash_map<KeyId, QuotaWindow> pools_;
  absl::flat_hash_map<KeyId, QuotaWindow> members_;
};

}  // namespace keymeter
