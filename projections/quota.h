// Quota windows: the current UTC day's requests and the current UTC month's units of every root
// key's pool, and the current day's requests of every child (for its member cap). This is what
// `authorize` compares with the quotas; it lives in memory only and is restored from the usage
// projection when the store opens.
//
// A window moves forward with event time: an event of a later day (month) starts a new window;
// an event of an earlier one (a late event) is counted in usage but leaves the window alone.
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

struct QuotaWindow {
  TimeUs day_start = 0;
  uint64_t day_requests = 0;
  TimeUs month_start = 0;
  uint64_t month_units = 0;

  void Count(TimeUs t, uint64_t requests, uint64_t units);
  // The counts as of `now`: zero for a window that `now` has left.
  uint64_t DayRequests(TimeUs now) const;
  uint64_t MonthUnits(TimeUs now) const;
};

class QuotaWindows {
 public:
  // Counts one request of `key`, whose pool is `root`'s (the same id for a root key).
  void Count(KeyId key, KeyId root, TimeUs t, uint32_t units);

  // The pool of a root key, and the member window of a child; empty windows when unseen.
  QuotaWindow Pool(KeyId root) const;
  QuotaWindow Member(KeyId key) const;

  // Rebuilds every window for the day and month holding `now` from the usage column family.
  Status Restore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* usage, const KeyDirectory& dir,
                 TimeUs now);

  size_t size() const { return pools_.size() + members_.size(); }

 private:
  absl::flat_hash_map<KeyId, QuotaWindow> pools_;
  absl::flat_hash_map<KeyId, QuotaWindow> members_;
};

}  // namespace keymeter
