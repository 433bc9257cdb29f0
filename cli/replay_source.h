// ReplaySource: the Source `keymeter replay` hands the projector. It wraps the real source (a
// KafkaSource, a FileSource) and bounds what reaches the projector, per partition:
//
//   end     The offset the partition ended at when the replay started (Kafka's high watermark,
//           a file's message count). Messages at or past it are dropped; the partition is done
//           once offset end-1 was delivered, or at once when it starts at or past its end.
//           Partitions not in `end` are dropped whole (they were added after the replay began).
//   until   Delivery stops at the first message whose time is after `until`, and the partition
//           is done. A message's time is its RequestEvent's time_us (what usage is bucketed by)
//           or, for a lifecycle op, the envelope's time_us; but a time more than
//           `future_tolerance_us` past the message's log time, which the projector dead-letters
//           as FUTURE-TIMESTAMP, counts as the log time, so one far-future event does not cut a
//           partition short. A message that does not verify has no time: it is delivered, and
//           goes to the DLQ as in a live run.
//
// A partition is one or more accounts' log in order, so stopping at the first later message
// makes the store the projector builds the state of the log as of `until` (on every account's
// own timeline); its stored offsets point at the first message not applied, from which
// `keymeter serve` could carry on.
//
// AtEnd() once every partition of `end` is done, or the inner source is at its end.
// Committed() is not forwarded: a replay's throwaway consumer group leaves no offsets behind.
//
// Thread safety: one thread, like every Source.

#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consumers/file_source.h"
#include "consumers/source.h"
#include "projections/time_buckets.h"

namespace keymeter {

struct ReplayBounds {
  std::map<int32_t, int64_t> start;  // first offset read per partition (0 when absent)
  std::map<int32_t, int64_t> end;    // see the file comment
  std::optional<TimeUs> until;
  TimeUs future_tolerance_us = 5 * 60 * kMicrosPerSecond;  // ProjectorOptions' default
};

class KafkaSource;

// Bounds of a replay of `source`'s topic: every partition from its low watermark (or from its
// first message logged at or after `from_us`, by offsetsForTimes) to its high watermark, asked
// of the broker now. `until` is left unset. Errors: KafkaConsumer::QueryBounds' and
// OffsetsForTime's (KAFKA-NO-TOPIC, KAFKA-TIMEOUT, KAFKA-ERROR).
Result<ReplayBounds> KafkaReplayBounds(KafkaSource& source, std::optional<TimeUs> from_us,
                                       std::chrono::milliseconds timeout);

// Bounds of a replay of the file at `path`: partition 0, from 0 to its message count as
// FileSource numbers them (NDJSON lines, blank ones included, or length-prefixed records, a
// truncated last one included); and each partition its log lines name, up to the highest
// offset named. kAuto is resolved as FileSource does. Errors: IO-ERROR.
Result<ReplayBounds> FileReplayBounds(const std::string& path, FileFormat format);

// The time `until` is judged against (see the file comment); nullopt when `m` doesn't verify.
std::optional<TimeUs> ReplayTimeOf(const SourceMessage& m, TimeUs future_tolerance_us);

class ReplaySource : public Source {
 public:
  // `inner` must outlive this.
  ReplaySource(Source& inner, ReplayBounds bounds);

  Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                      std::chrono::milliseconds timeout) override;
  bool AtEnd() const override;
  void Release() override { inner_.Release(); }
  std::string name() const override { return inner_.name(); }

  // Messages delivered so far.
  uint64_t delivered() const { return delivered_; }
  // Messages of the bounded range read so far (delivered, or passed over by a stop at
  // `until`), and the range's size: the replay's progress.
  uint64_t position() const;
  uint64_t total() const;
  // Partitions stopped by `until`, and partitions not done yet with (next, end) offsets.
  const std::set<int32_t>& stopped_by_until() const { return stopped_; }
  std::map<int32_t, std::pair<int64_t, int64_t>> Pending() const;

 private:
  bool Done(int32_t partition) const;

  Source& inner_;
  const ReplayBounds bounds_;
  std::map<int32_t, int64_t> next_;  // next offset per partition of `end`
  std::set<int32_t> stopped_;
  uint64_t delivered_ = 0;
};

}  // namespace keymeter
