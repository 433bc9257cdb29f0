// EmbeddedLog: keymeter's event log when no Kafka brokers are configured (DESIGN §2 "Embedded
// default"), kept in column family "log" of the store. EmbeddedLogSource reads it for the
// projector. Byte layout:
//
//   key        := be32(partition) be64(offset)          partition < 0xffffffff, offset >= 0
//   value      := be64(append_time_us) envelope         envelope: the raw bytes appended
//   meta key   := be32(0xffffffff) "partitions"  ->  be32(partition count)
//
// Big-endian integers make RocksDB's bytewise order the (partition, offset) order, so a
// partition is one contiguous range and its last key is its highest offset.
//
// Partitioning: partition = (murmur2(partition_key) & 0x7fffffff) % partitions, with Kafka's
// murmur2 (the Java client's Utils.murmur2, seed 0x9747b28c), so an account lands on the same
// partition number as it would in a Kafka topic of as many partitions. The partition count is
// stored on first open and may not change afterwards (that would reorder accounts).
//
// Offsets: per partition, dense from 0, assigned under a mutex in append order; the next offset
// of each partition is recovered from its last key when the log is opened. A reader never sees
// a gap: appends are written in offset order while the mutex is held, and readers are bounded
// by the published end of each partition.
//
// Retention: none yet. The log grows until the store is deleted; trimming what every
// projection has applied (or a snapshot) is future work.
//
// Thread safety: EmbeddedLog is thread-safe; appenders and readers may run concurrently.
// EmbeddedLogSource is used by one thread (the projector's), like every Source.

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consumers/decode.h"
#include "consumers/source.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace keymeter {

struct EmbeddedLogOptions {
  // 1 .. 1024; 0 = as the log was created (a reader's choice: NOT-A-STORE when there is no log).
  int32_t partitions = 4;
  bool sync = false;       // fsync each append (the WAL is always written)
  // Append time source; the system clock when empty (tests inject a fixed one).
  std::function<TimeUs()> clock;
};

struct LogPosition {
  int32_t partition = 0;
  int64_t offset = 0;
};

struct LogEntry {
  std::span<const uint8_t> envelope;
  std::string_view partition_key;  // the account id
};

struct LogRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  TimeUs append_time_us = 0;
  std::string envelope;
};

// Called for each record a scan finds; `envelope` is valid only during the call.
using LogVisitor =
    std::function<void(int64_t offset, TimeUs append_time_us, std::span<const uint8_t> envelope)>;

// (murmur2(key) & 0x7fffffff) % partitions with Kafka's murmur2: the partition Kafka's Java
// client and librdkafka's murmur2 partitioners pick for `key`.
int32_t KafkaPartitionFor(std::string_view key, int32_t partitions);

class EmbeddedLog {
 private:
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Opens the log in column family `cf` of `db`; both must outlive it. Errors: INVALID-ARGUMENT
  // for a partition count out of range; LOG-PARTITIONS-MISMATCH when the log was created with a
  // different count; IO-ERROR from RocksDB.
  static Result<std::unique_ptr<EmbeddedLog>> Open(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                                   const EmbeddedLogOptions& options = {});
  EmbeddedLog(PrivateTag, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
              const EmbeddedLogOptions& options);  // use Open()
  EmbeddedLog(const EmbeddedLog&) = delete;
  EmbeddedLog& operator=(const EmbeddedLog&) = delete;

  // Appends `envelope` (not verified here) to the partition of `partition_key` and returns its
  // offset there. Wakes waiting readers. Errors: IO-ERROR (nothing was appended).
  Result<int64_t> Append(std::span<const uint8_t> envelope, std::string_view partition_key);
  // Appends all of `entries` in one atomic write, in order; returns their positions.
  Result<std::vector<LogPosition>> AppendBatch(std::span<const LogEntry> entries);

  int32_t partitions() const { return partitions_; }
  int32_t PartitionFor(std::string_view partition_key) const;
  // The next offset to be assigned in `partition` (= number of records in it); 0 for a
  // partition out of [0, partitions()).
  int64_t EndOffset(int32_t partition) const;

  // Visits up to `max` records of `partition` from offset `from` on, in offset order, and
  // returns how many. Errors: IO-ERROR (also for a corrupt record).
  Result<size_t> Scan(int32_t partition, int64_t from, size_t max, const LogVisitor& visit) const;
  // Scan into `out` (appended), copying the envelopes.
  Result<size_t> Read(int32_t partition, int64_t from, size_t max,
                      std::vector<LogRecord>* out) const;

  // Waits up to `timeout` until some partition p has EndOffset(p) > next[p] (next has one entry
  // per partition). Returns whether that is so.
  bool WaitForData(std::span<const int64_t> next, std::chrono::milliseconds timeout) const;

 private:
  Status Recover();
  bool HasDataLocked(std::span<const int64_t> next) const;

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const int32_t partitions_;
  const bool sync_;
  const std::function<TimeUs()> clock_;
  mutable std::mutex mu_;
  mutable std::condition_variable appended_;
  std::vector<int64_t> end_;  // GUARDED_BY(mu_): next offset per partition
};

// Reads every partition of an EmbeddedLog, round robin, from the stored offsets on. The stored
// offsets are asked once, on the first Poll (nullopt = 0): the embedded log has no rebalances.
class EmbeddedLogSource : public Source {
 public:
  EmbeddedLogSource(const EmbeddedLog& log, StoredOffsetFn stored_offset);

  Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                      std::chrono::milliseconds timeout) override;
  std::string name() const override { return "embedded"; }
  // Every partition's EndOffset().
  LogEndsSeen LogEnds() const override;

 private:
  const EmbeddedLog& log_;
  StoredOffsetFn stored_offset_;
  std::vector<int64_t> next_;  // next offset to read per partition; empty before Poll
  PayloadArena arena_;         // envelopes of the last Poll (payloads point here)
  int32_t first_ = 0;          // partition read first by the next Poll
};

}  // namespace keymeter
