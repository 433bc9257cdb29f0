// Store: keymeter's RocksDB database and its column families (projections/column_families.h).
//
// One Write() per projector batch: the batch holds state changes and offsets together, so a
// crash leaves either all of a batch or none of it.
//
// Thread safety: thread-safe (RocksDB is); the handles live as long as the Store.

#pragma once

#include <memory>
#include <string>

#include "projections/column_families.h"
#include "schemas/status.h"

namespace rocksdb {
class DB;
class WriteBatch;
class Env;
}  // namespace rocksdb

namespace keymeter {

struct StoreOptions {
  std::string path;
  bool create_if_missing = true;
  bool read_only = false;
  // fsync each write. Off trades the last instants before a power loss (not a process crash)
  // for throughput; the log replays them.
  bool sync = false;
  // Off: writes skip RocksDB's write-ahead log, and `atomic_flush` persists every column family
  // at one point, so a crash leaves the store as of its last flush, offsets and state together.
  // Only for a store built in one go from a log (`keymeter replay`), which calls Flush() before
  // it reports success. serve keeps the WAL: after a crash it must answer from at least the
  // state it answered from before (a key suspended then must not authorize again while the
  // lost tail is replayed).
  bool wal = true;
  // Memory: the block cache also holds the SST index and filter blocks, and the memtables of
  // every column family together flush before they pass `write_buffer_bytes`.
  size_t block_cache_bytes = 256 << 20;
  size_t write_buffer_bytes = 256 << 20;
  rocksdb::Env* env = nullptr;  // fault injection in tests; nullptr = default
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  rocksdb::DB* db() const { return db_.get(); }
  const CfHandles& cfs() const { return cfs_; }

  // Applies `batch` atomically. IO-ERROR with RocksDB's message on failure.
  Status Write(rocksdb::WriteBatch* batch);

  // Persists every column family's memtables now (at one point without the WAL).
  Status Flush();

  // After a write error RocksDB refuses writes until the cause is gone and it is resumed: this
  // flushes what it holds and clears the error. IO-ERROR while the fault persists.
  Status Resume();

  // What RocksDB holds in memory, as its properties estimate it.
  struct Memory {
    uint64_t block_cache = 0;    // the one block cache every column family shares
    uint64_t memtables = 0;      // active and immutable memtables, all column families
    uint64_t table_readers = 0;  // index and filter blocks outside the block cache
    uint64_t total() const { return block_cache + memtables + table_readers; }
  };
  Memory MemoryUsage() const;

  // RocksDB's estimate of the live data in every column family, summed (0 where it has none).
  uint64_t LiveDataBytes() const;

  // SHA-256 (hex) over the name, keys and values of every projection column family in order.
  // Equal for two stores that applied the same log, whatever the source of that log.
  Result<std::string> Checksum() const;

 private:
  Store() = default;
  StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  CfHandles cfs_;
};

}  // namespace keymeter
