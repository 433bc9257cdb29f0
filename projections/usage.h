// Usage: request counters per key, per root key (the key and its children rolled up) and per
// account, in hour, day and month buckets of event time (UTC), plus per product per key per
// day.
//
// Layout (column family "usage"):
//   key      := scope granularity entity 0x00 be64(bucket_start_us) [product]
//   scope    := 'k' (key) | 'r' (root key) | 'a' (account) | 'p' (product of a key, day only)
//   entity   := key_id (8 bytes) | account_id
//   value    := counters; counters := fixed64le[6] (requests, units, errors_4xx, errors_5xx,
//                                                   bytes_in, bytes_out)
// Values are written with RocksDB Merge through the "keymeter.CountersAdd" operator, which adds
// counters field by field. Addition commutes, so the result is the same whatever the batch
// boundaries or the interleaving of partitions: a replay gives the same bytes.
//
// UsageBatch aggregates one projector batch in memory and writes one Merge per touched cell
// (not one per event).
//
// Thread safety: UsageBatch is single-threaded (the projector's); ReadUsage is safe to call
// concurrently.

#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

enum class UsageScope : char { kKey = 'k', kRoot = 'r', kAccount = 'a', kProduct = 'p' };

// The merge operator of the usage column family.
std::shared_ptr<rocksdb::MergeOperator> NewCountersMergeOperator();

// One request's contribution, as the projector sees it.
struct UsageEvent {
  std::string_view account_id;
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
  // Writes one Merge per touched cell into `batch` and clears the aggregate.
  void MoveInto(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf);
  bool empty() const { return cells_.empty(); }
  size_t cells() const { return cells_.size(); }

 private:
  // A cell without strings: the hot path hashes four words, and the RocksDB key is built once
  // per cell at MoveInto. `entity` is a packed KeyId, or an index into accounts_/products_.
  struct Cell {
    char scope;
    char granularity;
    uint32_t product;  // index into products_ (UsageScope::kProduct only)
    uint64_t entity;
    TimeUs bucket;
    friend bool operator==(const Cell&, const Cell&) = default;
    template <class H>
    friend H AbslHashValue(H h, const Cell& c) {
      return H::combine(std::move(h), c.scope, c.granularity, c.product, c.entity, c.bucket);
    }
  };
  uint32_t Intern(std::vector<std::string>& table,
                  absl::flat_hash_map<std::string, uint32_t>& index, std::string_view s);
  std::string KeyOf(const Cell& cell) const;

  absl::flat_hash_map<Cell, Counters> cells_;
  std::vector<std::string> accounts_, products_;
  absl::flat_hash_map<std::string, uint32_t> account_index_, product_index_;
  std::string scratch_;
};

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

// One cell: the counters of `entity` in the bucket holding `t` (zero when none).
Result<Counters> ReadUsageCell(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, UsageScope scope,
                               Granularity g, std::string_view entity, TimeUs t);

}  // namespace keymeter
