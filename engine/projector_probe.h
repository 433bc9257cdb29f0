// ProjectorProbe: the projector's metrics — events applied by op, dead letters by reason,
// duplicates dropped, batch size and commit latency, per-partition next offset, watermark, log
// end and lag, RocksDB's live data size, and the memory of the bounded parts (dedupe windows,
// RocksDB's block cache, memtables and table readers) beside the heap and the resident set. Only projector_probe.cc includes prometheus-cpp.
//
// Thread safety: BatchCommitted() and LogEnds() are called by the projector thread,
// PartitionsHeld() also by its background writer; LiveDataBytes()
// and MemoryBytes() by /metrics handlers; prometheus metrics are thread-safe, the delta bookkeeping is guarded.

#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "consumers/source.h"
#include "engine/metrics.h"
#include "engine/partition_state.h"
#include "engine/projector_stats.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace keymeter {

class ProjectorProbe {
 public:
  explicit ProjectorProbe(Metrics& metrics);
  ~ProjectorProbe();
  ProjectorProbe(const ProjectorProbe&) = delete;
  ProjectorProbe& operator=(const ProjectorProbe&) = delete;

  // A batch committed: publishes what changed in `stats` since the last call.
  void BatchCommitted(const ProjectorStats& stats);
  // The partitions as written to the store (a batch landed, or one was dropped): their offset
  // and watermark gauges; partitions absent from `parts` lose theirs.
  void PartitionsHeld(const std::map<int32_t, PartitionRecord>& parts);
  void LiveDataBytes(uint64_t bytes);
  // keymeter_kafka_clients_replaced_total{client="consumer"|"producer"}: brought up to the
  // totals given (Pipeline::kafka_clients_replaced(), set by /metrics).
  void KafkaClientsReplaced(uint64_t consumers, uint64_t producers);
  // keymeter_partitions_dropped_total: brought up to `total` (Pipeline::partitions_dropped()).
  void PartitionsDropped(uint64_t total);
  // keymeter_memory_bytes{part=`part`}: "resident", "heap_in_use", "rocksdb_block_cache",
  // "rocksdb_memtables", "rocksdb_table_readers" (set by /metrics); "dedupe" comes with each
  // batch.
  void MemoryBytes(const std::string& part, uint64_t bytes);
  // The source's view of each partition's end (Source::LogEnds()) against the projector's
  // committed next offsets: sets keymeter_partition_log_end_offset and
  // keymeter_partition_lag_messages = max(0, end - next offset) per partition in `ends`, and
  // drops the gauges of partitions no longer in `ends` (revoked from this member).
  void LogEnds(const std::vector<PartitionOffset>& ends,
               const std::map<int32_t, PartitionRecord>& parts);
  // The source's read-ahead buffer (Source::Buffered()): keymeter_source_buffered_messages,
  // keymeter_source_buffered_bytes, keymeter_source_buffer_full.
  void SourceBuffered(const SourceBuffer& buffer);
  // The lag of each partition as the last LogEnds() set it (the cluster's member records).
  std::map<int32_t, int64_t> Lags();

 private:
  void PublishPartitions(const std::map<int32_t, PartitionRecord>& parts);  // REQUIRES(mu_)

  prometheus::Family<prometheus::Counter>& applied_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Gauge>& next_offset_;
  prometheus::Family<prometheus::Gauge>& watermark_;
  prometheus::Family<prometheus::Gauge>& log_end_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& memory_;
  prometheus::Counter* duplicates_ = nullptr;
  prometheus::Counter* retried_ = nullptr;
  prometheus::Counter* alerts_crossed_ = nullptr;
  prometheus::Counter* alerts_resolved_ = nullptr;
  prometheus::Counter* webhook_attempts_[3] = {};  // ProjectorStats::webhook_attempts' order
  uint64_t webhook_seen_[3] = {};
  prometheus::Histogram* batch_size_ = nullptr;
  prometheus::Histogram* commit_seconds_ = nullptr;
  prometheus::Gauge* engine_watermark_ = nullptr;
  prometheus::Gauge* live_bytes_ = nullptr;
  prometheus::Gauge* dedupe_entries_ = nullptr;
  prometheus::Counter* consumers_replaced_ = nullptr;
  prometheus::Counter* producers_replaced_ = nullptr;
  prometheus::Counter* partitions_dropped_ = nullptr;
  prometheus::Gauge* buffered_messages_ = nullptr;
  prometheus::Gauge* buffered_bytes_ = nullptr;
  prometheus::Gauge* buffer_full_ = nullptr;
  prometheus::Counter* rewound_ = nullptr;
  uint64_t rewound_seen_ = 0;  // the source's count at the last SourceBuffered()
  // keymeter_projector_seconds_total{phase="poll"|"apply"|"write_wait"}
  prometheus::Counter* poll_seconds_ = nullptr;
  prometheus::Counter* apply_seconds_ = nullptr;
  prometheus::Counter* write_wait_seconds_ = nullptr;
  ProjectorStats time_seen_;  // GUARDED_BY(mu_): the times of the last BatchCommitted()
  std::mutex mu_;
  std::vector<int32_t> published_;  // GUARDED_BY(mu_): partitions with offset gauges
  std::map<std::string, uint64_t> applied_seen_;       // GUARDED_BY(mu_)
  std::map<std::string, uint64_t> dead_letters_seen_;  // GUARDED_BY(mu_)
  uint64_t requests_seen_ = 0;                         // GUARDED_BY(mu_)
  uint64_t duplicates_seen_ = 0;                       // GUARDED_BY(mu_)
  uint64_t retried_seen_ = 0;                          // GUARDED_BY(mu_)
  uint64_t crossed_seen_ = 0;                          // GUARDED_BY(mu_)
  uint64_t resolved_seen_ = 0;                         // GUARDED_BY(mu_)
  // Per partition: its end and lag gauges, while the source reports the partition.
  std::map<int32_t, std::pair<prometheus::Gauge*, prometheus::Gauge*>> lag_gauges_;  // GUARDED_BY(mu_)
};

}  // namespace keymeter
