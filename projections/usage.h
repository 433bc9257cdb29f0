// Usage: request counters per key, per root key (the key and its children rolled up) and per
// account, in hour, day and month buckets of event time (UTC), plus per product per key per
// day.
//
// Layout (column family "usage"): one value per entity and UTC day, holding that day's hours
// and (for keys) its products:
//   key      := scope entity 0x00 be64(day_start_us)
//   scope    := 'k' (key) | 'r' (root key) | 'a' (account)
//   entity   := key_id (8 bytes) | account_id
//   value    := varint(n) hour_slot{n} varint(m) product_slot{m}
//   hour_slot    := u8(hour of day) counters          hours ascending, each at most once
//   product_slot := varint(len) product counters       products ascending bytewise
//   counters := varint[6] (requests, units, errors_4xx, errors_5xx, bytes_in, bytes_out)
// A day's counters are the sum of its hours, a month's the sum of its days (at most 31 values,
// adjacent in key order). So a request event touches three values — not nine cells — which is
// what lets the projector keep up with the log (DESIGN §7).
//
// Values are written with RocksDB Merge through the "keymeter.UsageDayAdd" operator, which adds
// slot by slot and writes the canonical form above. Addition commutes, so the result is the same
// whatever the batch boundaries or the interleaving of partitions: a replay gives the same bytes.
//
// UsageBatch aggregates one projector batch in memory and writes one Merge per touched
// (entity, day), not one per event.
//
// Thread safety: UsageBatch is single-threaded (the projector's); the readers are safe to call
// concurrently.

#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "projections/account_ref.h"
#include "projections/interner.h"
#include "projections/time_buckets.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class MergeOperator;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

struct Counters {
  uint64_t requests = 0;
  uint64_t units = 0;
  uint64_t errors_4xx = 0;
  uint64_t errors_5xx = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;

  void Add(const Counters& o);
  friend bool operator==(const Counters&, const Counters&) = default;
};

// kProduct is a view of the key values' product slots; it has no values of its own.
enum class UsageScope : char { kKey = 'k', kRoot = 'r', kAccount = 'a', kProduct = 'p' };

// The merge operator of the usage column family.
std::shared_ptr<rocksdb::MergeOperator> NewUsageMergeOperator();

// One request's contribution, as the projector sees it.
struct UsageEvent {
  AccountRef account_id;
  KeyId key;
  KeyId root;  // the key's root at apply time (itself for a root key)
  std::string_view product;
  TimeUs time_us = 0;
  uint32_t units = 1;
  uint16_t status = 200;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

class UsageBatch {
 public:
  void Add(const UsageEvent& e);
  // Starts loading the slots Add() will touch for a request of `key` at `t` (its own day, and
  // its pool's when it is a root key).
  void Prefetch(KeyId key, TimeUs t) const;
  // Writes one Merge per touched (entity, day) into `batch` and clears the aggregate.
  void MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf);
  bool empty() const { return days_.empty(); }
  // How many values MoveInto would write.
  size_t values() const { return days_.size(); }

 private:
  // An (entity, day) without strings: the hot path hashes three words, and the RocksDB key is
  // built once per value at MoveInto. `entity` is a packed KeyId, or the address of an
  // AccountRef's interned id (one pointer per account for the life of the process).
  struct Day {
    char scope;
    uint64_t entity;
    TimeUs start;
    friend bool operator==(const Day&, const Day&) = default;
    template <class H>
    friend H AbslHashValue(H h, const Day& d) {
      return H::combine(std::move(h), d.scope, d.entity, d.start);
    }
  };
  // A day's slots in arrival order (a batch rarely spans more than an hour or two).
  struct Slots {
    absl::InlinedVector<std::pair<uint8_t, Counters>, 1> hours;
    absl::InlinedVector<std::pair<uint32_t, Counters>, 1> products;  // index into products_
  };
  uint32_t ProductIndex(std::string_view product);

  absl::flat_hash_map<Day, Slots> days_;
  Interner products_;
  std::string last_product_;
  uint32_t last_product_index_ = UINT32_MAX;
  std::string scratch_;
};

// The stored key of `entity`'s value for the day holding `t`.
std::string UsageDayKey(UsageScope scope, std::string_view entity, TimeUs t);

// The name of one logical cell — scope granularity entity 0x00 be64(bucket_start) [product] —
// as AllUsageCells reports it (tests and checks compare whole projections by these names).
std::string UsageKey(UsageScope scope, Granularity g, std::string_view entity, TimeUs bucket,
                     std::string_view product = {});

struct UsageRow {
  TimeUs bucket_start_us = 0;
  std::string product;  // for UsageScope::kProduct
  Counters counters;
};

// Rows of `entity` with bucket starts in [from_us, to_us), oldest first. kProduct rows exist
// only at day granularity.
Result<std::vector<UsageRow>> ReadUsage(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                        UsageScope scope, Granularity g, std::string_view entity,
                                        TimeUs from_us, TimeUs to_us);

// One cell: the counters of `entity` in the bucket holding `t` (zero when none). Not for
// kProduct.
Result<Counters> ReadUsageCell(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, UsageScope scope,
                               Granularity g, std::string_view entity, TimeUs t);

// Every logical cell of the column family (hour, day, month and product/day of every entity),
// by UsageKey. For tests and consistency checks: it reads everything.
Result<std::map<std::string, Counters>> AllUsageCells(rocksdb::DB* db,
                                                      rocksdb::ColumnFamilyHandle* cf);

}  // namespace keymeter
