#include "consumers/embedded_log.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <limits>

#include "schemas/clock.h"

namespace keymeter {
namespace {

constexpr uint32_t kMetaPartition = 0xffffffff;
constexpr std::string_view kPartitionsName = "partitions";
constexpr size_t kKeyBytes = 12;
constexpr size_t kTimeBytes = 8;

void PutBe(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>(uint8_t(v >> (8 * i))));
}

uint64_t GetBe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | uint8_t(p[i]);
  return v;
}

std::string LogKey(int32_t partition, int64_t offset) {
  std::string key;
  key.reserve(kKeyBytes);
  PutBe(&key, static_cast<uint32_t>(partition), 4);
  PutBe(&key, static_cast<uint64_t>(offset), 8);
  return key;
}

std::string MetaKey() {
  std::string key;
  PutBe(&key, kMetaPartition, 4);
  key.append(kPartitionsName);
  return key;
}

Status IoError(std::string_view what, const rocksdb::Status& s) {
  return Status(Code::kIoError, std::string(what) + ": " + s.ToString());
}

// Java's org.apache.kafka.common.utils.Utils.murmur2.
uint32_t Murmur2(std::string_view key) {
  const uint32_t m = 0x5bd1e995;
  const auto* data = reinterpret_cast<const uint8_t*>(key.data());
  const size_t length = key.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(length);
  for (size_t i = 0; i + 4 <= length; i += 4) {
    uint32_t k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (uint32_t{data[i + 3]} << 24);
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3:
      h ^= data[tail + 2] << 16;
      [[fallthrough]];
    case 2:
      h ^= data[tail + 1] << 8;
      [[fallthrough]];
    case 1:
      h ^= data[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

}  // namespace

int32_t KafkaPartitionFor(std::string_view key, int32_t partitions) {
  return static_cast<int32_t>((Murmur2(key) & 0x7fffffff) % static_cast<uint32_t>(partitions));
}

// ------------------------------------------------------------------------------ EmbeddedLog

Result<std::unique_ptr<EmbeddedLog>> EmbeddedLog::Open(rocksdb::DB* db,
                                                       rocksdb::ColumnFamilyHandle* cf,
                                                       const EmbeddedLogOptions& given) {
  EmbeddedLogOptions options = given;
  if (options.partitions == 0) {
    std::string stored;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, MetaKey(), &stored);
    if (s.IsNotFound() || (s.ok() && stored.size() != 4)) {
      return Status(Code::kNotAStore, "the store holds no embedded log (does it follow Kafka?)");
    }
    if (!s.ok()) return IoError("reading the log's partition count", s);
    options.partitions = static_cast<int32_t>(GetBe(stored.data(), 4));
  }
  if (options.partitions < 1 || options.partitions > 1024) {
    return Status(Code::kInvalidArgument,
                  "partitions must be 1..1024, not " + std::to_string(options.partitions));
  }
  auto log = std::make_unique<EmbeddedLog>(PrivateTag(), db, cf, options);
  Status status = log->Recover();
  if (!status.ok()) return status;
  return log;
}

EmbeddedLog::EmbeddedLog(PrivateTag, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                         const EmbeddedLogOptions& o)
    : db_(db),
      cf_(cf),
      partitions_(o.partitions),
      sync_(o.sync),
      clock_(o.clock ? o.clock : std::function<TimeUs()>(NowUs)),
      end_(static_cast<size_t>(o.partitions), 0) {}

Status EmbeddedLog::Recover() {
  std::string stored;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, MetaKey(), &stored);
  if (s.IsNotFound()) {
    std::string value;
    PutBe(&value, static_cast<uint32_t>(partitions_), 4);
    s = db_->Put(rocksdb::WriteOptions(), cf_, MetaKey(), value);
    if (!s.ok()) return IoError("writing the log's partition count", s);
  } else if (!s.ok()) {
    return IoError("reading the log's partition count", s);
  } else if (stored.size() != 4 || GetBe(stored.data(), 4) != uint32_t(partitions_)) {
    return Status(Code::kLogPartitionsMismatch,
                  "the embedded log has " +
                      (stored.size() == 4 ? std::to_string(GetBe(stored.data(), 4)) : "?") +
                      " partitions, " + std::to_string(partitions_) + " configured");
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  for (int32_t p = 0; p < partitions_; ++p) {
    it->SeekForPrev(LogKey(p, std::numeric_limits<int64_t>::max()));
    if (it->Valid() && it->key().size() == kKeyBytes &&
        GetBe(it->key().data(), 4) == static_cast<uint32_t>(p)) {
      end_[size_t(p)] = static_cast<int64_t>(GetBe(it->key().data() + 4, 8)) + 1;
    }
  }
  if (!it->status().ok()) return IoError("recovering log offsets", it->status());
  return Status::Ok();
}

int32_t EmbeddedLog::PartitionFor(std::string_view partition_key) const {
  return KafkaPartitionFor(partition_key, partitions_);
}

int64_t EmbeddedLog::EndOffset(int32_t partition) const {
  if (partition < 0 || partition >= partitions_) return 0;
  std::lock_guard lock(mu_);
  return end_[size_t(partition)];
}

Result<int64_t> EmbeddedLog::Append(std::span<const uint8_t> envelope,
                                    std::string_view partition_key) {
  const LogEntry entry{envelope, partition_key};
  Result<std::vector<LogPosition>> positions = AppendBatch({&entry, 1});
  if (!positions) return positions.error();
  return positions.value()[0].offset;
}

Result<std::vector<LogPosition>> EmbeddedLog::AppendBatch(std::span<const LogEntry> entries) {
  std::vector<LogPosition> positions;
  positions.reserve(entries.size());
  for (const LogEntry& e : entries) positions.push_back({PartitionFor(e.partition_key), 0});
  std::string time_prefix;
  PutBe(&time_prefix, static_cast<uint64_t>(clock_()), 8);
  rocksdb::WriteBatch batch;
  std::string value;
  {
    // Held across the write so that offsets reach RocksDB in order and readers see no gap.
    std::lock_guard lock(mu_);
    std::vector<int64_t> end = end_;
    for (size_t i = 0; i < entries.size(); ++i) {
      positions[i].offset = end[size_t(positions[i].partition)]++;
      value.assign(time_prefix);
      value.append(reinterpret_cast<const char*>(entries[i].envelope.data()),
                   entries[i].envelope.size());
      rocksdb::Status s =
          batch.Put(cf_, LogKey(positions[i].partition, positions[i].offset), value);
      if (!s.ok()) return IoError("log batch", s);
    }
    rocksdb::WriteOptions write_options;
    write_options.sync = sync_;
    rocksdb::Status s = db_->Write(write_options, &batch);
    if (!s.ok()) return IoError("appending to the log", s);
    end_ = std::move(end);
  }
  appended_.notify_all();
  return positions;
}

Result<size_t> EmbeddedLog::Scan(int32_t partition, int64_t from, size_t max,
                                 const LogVisitor& visit) const {
  const int64_t end = EndOffset(partition);
  if (from >= end || max == 0) return size_t{0};
  const std::string upper = LogKey(partition, end);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, cf_));
  size_t n = 0;
  for (it->Seek(LogKey(partition, std::max<int64_t>(from, 0))); it->Valid() && n < max;
       it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    if (key.size() != kKeyBytes || value.size() < kTimeBytes) {
      return Status(Code::kIoError,
                    "corrupt embedded log record in partition " + std::to_string(partition));
    }
    visit(static_cast<int64_t>(GetBe(key.data() + 4, 8)),
          static_cast<TimeUs>(GetBe(value.data(), 8)),
          {reinterpret_cast<const uint8_t*>(value.data()) + kTimeBytes, value.size() - kTimeBytes});
    ++n;
  }
  if (!it->status().ok()) return IoError("reading the log", it->status());
  return n;
}

Result<size_t> EmbeddedLog::Read(int32_t partition, int64_t from, size_t max,
                                 std::vector<LogRecord>* out) const {
  return Scan(partition, from, max, [&](int64_t offset, TimeUs time, std::span<const uint8_t> e) {
    out->push_back({partition, offset, time, std::string(e.begin(), e.end())});
  });
}

bool EmbeddedLog::HasDataLocked(std::span<const int64_t> next) const {
  for (size_t p = 0; p < end_.size() && p < next.size(); ++p) {
    if (end_[p] > next[p]) return true;
  }
  return false;
}

bool EmbeddedLog::WaitForData(std::span<const int64_t> next,
                              std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return appended_.wait_for(lock, timeout, [&] { return HasDataLocked(next); });
}

// ------------------------------------------------------------------------ EmbeddedLogSource

EmbeddedLogSource::EmbeddedLogSource(const EmbeddedLog& log, StoredOffsetFn stored_offset)
    : log_(log), stored_offset_(std::move(stored_offset)) {}

LogEndsSeen EmbeddedLogSource::LogEnds() const {
  LogEndsSeen seen;
  for (int32_t p = 0; p < log_.partitions(); ++p) seen.ends.push_back({p, log_.EndOffset(p)});
  return seen;
}

Result<size_t> EmbeddedLogSource::Poll(std::vector<SourceMessage>* out, size_t max,
                                       std::chrono::milliseconds timeout) {
  out->clear();
  arena_.Clear();
  const int32_t partitions = log_.partitions();
  if (next_.empty()) {
    next_.assign(size_t(partitions), 0);
    for (int32_t p = 0; p < partitions && stored_offset_; ++p) {
      next_[size_t(p)] = std::max<int64_t>(stored_offset_(p).value_or(0), 0);
    }
  }
  if (max == 0 || !log_.WaitForData(next_, timeout)) return size_t{0};
  std::vector<int64_t> next = next_;
  for (int32_t i = 0; i < partitions && out->size() < max; ++i) {
    const int32_t p = (first_ + i) % partitions;
    Result<size_t> n =
        log_.Scan(p, next[size_t(p)], max - out->size(),
                  [&](int64_t offset, TimeUs time, std::span<const uint8_t> envelope) {
                    arena_.Add(envelope);
                    out->push_back({p, offset, {}, time});
                    next[size_t(p)] = offset + 1;
                  });
    if (!n) {
      out->clear();
      return n.error();
    }
  }
  first_ = (first_ + 1) % partitions;
  next_ = std::move(next);
  for (size_t i = 0; i < out->size(); ++i) (*out)[i].payload = arena_[i];  // arena complete
  return out->size();
}

}  // namespace keymeter
