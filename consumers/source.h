// Source: where the projector reads envelopes from — a Kafka consumer group, the embedded log
// (a RocksDB column family) or files. One interface, so the projector and its exactly-once
// rule don't care which.
//
// Offsets: every message has a partition and an offset; the next offset to read of each
// partition is stored by the projector in RocksDB in the same WriteBatch as the state it
// produced, and handed back through `StartOffsetFn` when a partition is (re)assigned.
//
// Thread safety: a Source is used by one thread (the projector's) at a time.

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "schemas/ids.h"
#include "schemas/status.h"

namespace keymeter {

struct SourceMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  // The raw bytes, not yet verified. Valid until the next Poll() of the source.
  std::span<const uint8_t> payload;
  // When the log accepted the message (Kafka's timestamp, the embedded log's append time);
  // FUTURE-TIMESTAMP is judged against it. 0 when unknown.
  TimeUs log_time_us = 0;
};

struct PartitionOffset {
  int32_t partition = 0;
  int64_t next_offset = 0;
};

// Source::LogEnds(): the partitions whose end is known, and whether every partition read has one.
struct LogEndsSeen {
  std::vector<PartitionOffset> ends;
  // False while a partition the source reads has no known end yet (Kafka: no fetch response
  // for it since it was assigned): what is left of the log can't be told, so the projector is
  // not counted as caught up (readiness).
  bool all_known = true;
};

// What a source holds fetched ahead of the projector (its read-ahead buffer), and whether that
// buffer is at its bound, so that the source takes no more from the log: a projector or store
// slower than the log shows here (back-pressure), on /metrics.
struct SourceBuffer {
  size_t messages = 0;
  size_t bytes = 0;
  bool full = false;
  uint64_t rewound = 0;  // messages dropped since the start as below the offset expected next
};

// The stored next offset of `partition`, or nullopt when nothing was applied from it yet.
using StoredOffsetFn = std::function<std::optional<int64_t>(int32_t partition)>;

class Source {
 public:
  virtual ~Source() = default;

  // Replaces `out` with up to `max` messages, in offset order within each partition, waiting
  // up to `timeout` for the first. Returns how many. Errors are transient unless the source
  // says otherwise in the code; the projector reports them and polls again.
  virtual Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                              std::chrono::milliseconds timeout) = 0;

  // The caller has applied every message of the last Poll() and will not read their payloads
  // again. Optional: the next Poll() implies it. A source whose rebalances wait for the caller
  // (KafkaSource) waits no longer than that.
  virtual void Release() {}

  // The projector committed `next` durably. Kafka commits them to the group asynchronously
  // (only so that lag shows in Kafka's tools); others may ignore it.
  virtual void Committed(const std::vector<PartitionOffset>& next) {}

  // True once a finite source (files, a replay up to the end) has delivered everything.
  virtual bool AtEnd() const { return false; }

  // The end of each partition this source reads (the next offset the log will assign), as the
  // source last saw it, without a round trip: the embedded log's end offsets, Kafka's high
  // watermarks from the last fetch response. For the lag metric; partitions whose end is not
  // known yet are left out (and `all_known` says so); no ends when the source can't tell.
  virtual LogEndsSeen LogEnds() const { return {}; }

  // A round trip to the log behind this source: OK when it answers within `timeout`, else why
  // not (readiness reports it while the source is idle). Sources that are always there (the
  // embedded log, files) answer OK without a round trip.
  virtual Status ProbeLog(std::chrono::milliseconds timeout) { return Status::Ok(); }

  // The partitions this source reads now (a group's assignment and any standby partitions);
  // nullopt when it reads every partition there is (the embedded log, files).
  virtual std::optional<std::vector<int32_t>> Followed() const { return std::nullopt; }

  // The read-ahead buffer now; zeros for sources that read on demand (the embedded log, files).
  virtual SourceBuffer Buffered() const { return {}; }

  // Stable name used in stored offset keys: "kafka/keymeter.events", "embedded", "file".
  virtual std::string name() const = 0;
};

}  // namespace keymeter
