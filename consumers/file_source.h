// FileSource: reads envelopes from a file, for replays, imports and tests. Two formats:
//
//   NDJSON:            file := (line "\n")* [line]      one request event per line, the
//                                                        fields of POST /v1/events (ndjson.h),
//                                                        or one log line (log_line.h), what
//                                                        `keymeter log` prints; mixed freely
//   length-prefixed:   file := record*
//                      record := be32(length) envelope  envelope: `length` bytes (KMEV)
//
// A log line's message keeps the partition, offset and log time the line names, so a log
// printed by `keymeter log` replays as the log itself did (its offsets must rise per
// partition, as they do in what `keymeter log` prints). Every other message is on partition 0;
// its offset is its 0-based line (NDJSON, blank lines included) or record index, and its log
// time options.log_time_us. Messages before their partition's stored offset are skipped.
// A log line of the error form (a message the log's reader could not decode) is dead-lettered
// again with its code.
//
// NDJSON lines are converted to RequestEvent envelopes here (the account comes from
// `account_of`). Lines that fail are not returned: they go to `dead_letters` with the parser's
// code as reason (INVALID-JSON, MISSING-FIELD, INVALID-FIELD, OVERSIZED) or UNKNOWN-KEY, and the
// line as payload. So do length-prefixed records over `max_record_bytes` (OVERSIZED, skipped
// unread) and a truncated last record (UNDECODABLE). Give the projector's sink, so the dead
// letters commit with the batch that follows them; a bad line after the last good one may be
// dead-lettered again when a replay restarts from the stored offsets.
//
// Thread safety: not thread-safe, like every Source. AppendLengthPrefixed is a free function.

#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "consumers/dead_letter.h"
#include "consumers/decode.h"
#include "consumers/log_line.h"
#include "consumers/ndjson.h"
#include "consumers/source.h"

namespace keymeter {

enum class FileFormat {
  kAuto,  // NDJSON when the first byte after leading whitespace is '{', else length-prefixed
  kNdjson,
  kLengthPrefixed,
};

// The account that owns the key `key_id`, or nullopt when no such key exists.
using AccountOfFn = std::function<std::optional<std::string>(std::string_view key_id)>;

struct FileSourceOptions {
  std::string path;
  FileFormat format = FileFormat::kAuto;
  // NDJSON: fills each event's account. When empty the account stays empty, and the projector's
  // decode rejects the event (MISSING-FIELD account_id).
  AccountOfFn account_of;
  // Where rejected lines and records go; nullptr: they are only counted (rejected()).
  DeadLetterSink* dead_letters = nullptr;
  StoredOffsetFn stored_offset;  // asked once for partition 0; nullopt = from the start
  size_t max_line_bytes = size_t{1} << 20;  // NDJSON and log lines
  size_t max_record_bytes = size_t{16} << 20;
  // The log time every message is given: a file has none of its own, and the projector measures
  // FUTURE-TIMESTAMP against it (replay passes the time it started). 0: no future check.
  TimeUs log_time_us = 0;
};

class FileSource : public Source {
 private:
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Errors: IO-ERROR when the file cannot be opened.
  static Result<std::unique_ptr<FileSource>> Open(FileSourceOptions options);
  FileSource(PrivateTag, FileSourceOptions options);  // use Open()

  // Reads up to `max` lines or records (good or bad) without waiting. Errors: IO-ERROR.
  Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                      std::chrono::milliseconds timeout) override;
  bool AtEnd() const override { return at_end_; }
  std::string name() const override { return "file"; }

  FileFormat format() const { return options_.format; }
  // Lines and records this source dead-lettered itself.
  uint64_t rejected() const { return rejected_; }

 private:
  enum class Read { kMessage, kNothing, kSkipped };
  Status Detect();
  // The stored offset of `partition` (0 when none), asked of options_.stored_offset once.
  int64_t StoredOffset(int32_t partition);
  // Adds the next message to arena_ and fills `m` (kMessage), skips it (before the stored
  // offset) or dead-letters it (kNothing). Sets at_end_ when the file is exhausted.
  Result<Read> ReadNdjson(int64_t index, SourceMessage* m);
  Result<Read> ReadLogLine(int64_t index, SourceMessage* m);
  Result<bool> ReadRecord(int64_t index, bool skip);
  void Reject(Code reason, std::string detail, int32_t partition, int64_t index,
              std::span<const uint8_t> payload);

  FileSourceOptions options_;
  std::ifstream in_;
  NdjsonParser parser_;
  LogLineParser log_parser_;
  std::string line_;
  std::string record_;
  PayloadArena arena_;  // envelopes of the last Poll (payloads point here)
  int64_t next_index_ = 0;
  std::map<int32_t, int64_t> stored_;  // stored offsets asked so far
  bool at_end_ = false;
  uint64_t rejected_ = 0;
};

// Appends one length-prefixed record (be32 length, then the bytes) to `out`.
// Errors: OVERSIZED for 4 GiB or more; IO-ERROR when the stream fails.
Status AppendLengthPrefixed(std::ofstream& out, std::span<const uint8_t> envelope);

}  // namespace keymeter
