#include "engine/store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include <cstring>
#include <memory>
#include <vector>

#include "projections/request_log.h"
#include "projections/usage.h"
#include "schemas/sha256.h"

namespace keymeter {

namespace {

// The memtable insert hint of the families whose batches are written in key order (usage,
// requests: UsageBatch and RequestLogBatch sort their keys). A plain memtable insert reuses the
// previous insert's place only when the new key lands right beside it and searches the skip
// list from the top otherwise: with ~10^6 entries in the memtable and ~10^5 keys a batch,
// nearly always. An insert with a hint (one for all keys: an empty prefix) climbs from the
// previous place only as far as it must, O(log d) for d entries in between.
//
// RocksDB 7.8 inserts range deletions with the point entries' hints (fixed upstream), and a
// hint from the other list breaks the skip list. So a key whose last 8 bytes are zero (time 0
// in both families' keys) takes no hint, and every DeleteRange of these families must start at
// such a key (DropRequestsBefore does; request_log_test aborts otherwise).
class SortedBatchInsertHint : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "keymeter.SortedBatchInsertHint"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 0);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    static constexpr char kZero[8] = {};
    return key.size() >= 8 && std::memcmp(key.data() + key.size() - 8, kZero, 8) != 0;
  }
};

Status FromRocks(const rocksdb::Status& s) {
  return s.ok() ? Status::Ok() : Status(Code::kIoError, s.ToString());
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.db_write_buffer_size = options.write_buffer_bytes;
  db_options.atomic_flush = !options.wal;  // see StoreOptions::wal
  if (options.env != nullptr) db_options.env = options.env;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Index and filter blocks count against the cache instead of growing with the data.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kLZ4Compression;
  cf_options.bottommost_compression = rocksdb::kZSTD;

  const auto insert_hint = std::make_shared<SortedBatchInsertHint>();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (size_t i = 0; i < size_t(Cf::kCount); ++i) {
    rocksdb::ColumnFamilyOptions options = cf_options;
    if (Cf(i) == Cf::kUsage) options.merge_operator = NewUsageMergeOperator();
    if (Cf(i) == Cf::kRequests) options.merge_operator = NewAppendMergeOperator();
    if (Cf(i) == Cf::kUsage || Cf(i) == Cf::kRequests) {
      options.memtable_insert_with_hint_prefix_extractor = insert_hint;
    }
    descriptors.emplace_back(std::string(kCfNames[i]), options);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors, &handles, &raw)
          : rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return Status(Code::kIoError, "opening " + options.path + ": " + s.ToString());

  std::unique_ptr<Store> store(new Store());
  store->options_ = options;
  store->db_.reset(raw);
  // handles[0] is the default family, which keymeter does not use.
  store->db_->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
  for (size_t i = 0; i < size_t(Cf::kCount); ++i) store->cfs_.handles[i] = handles[i + 1];
  return store;
}

Store::~Store() {
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* h : cfs_.handles) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

Status Store::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  write_options.disableWAL = !options_.wal;
  return FromRocks(db_->Write(write_options, batch));
}

Status Store::Flush() {
  std::vector<rocksdb::ColumnFamilyHandle*> all(cfs_.handles.begin(), cfs_.handles.end());
  return FromRocks(db_->Flush(rocksdb::FlushOptions(), all));
}

Status Store::Resume() { return FromRocks(db_->Resume()); }

Store::Memory Store::MemoryUsage() const {
  Memory m;
  // A property RocksDB can't give leaves its part at 0.
  (void)db_->GetIntProperty("rocksdb.block-cache-usage", &m.block_cache);
  (void)db_->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &m.memtables);
  (void)db_->GetAggregatedIntProperty("rocksdb.estimate-table-readers-mem", &m.table_readers);
  return m;
}

uint64_t Store::LiveDataBytes() const {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* cf : cfs_.handles) {
    uint64_t live = 0;
    if (db_->GetIntProperty(cf, "rocksdb.estimate-live-data-size", &live)) total += live;
  }
  return total;
}

Result<std::string> Store::Checksum() const {
  Sha256Checksum sum;
  for (size_t i = 0; i < size_t(Cf::kCount); ++i) {
    if (!IsProjection(Cf(i))) continue;
    sum.Add(kCfNames[i]);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_.handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      sum.Add(it->key().ToStringView());
      sum.Add(it->value().ToStringView());
    }
    if (!it->status().ok()) return FromRocks(it->status());
  }
  return sum.Hex();
}

}  // namespace keymeter
