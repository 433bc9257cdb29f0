// One message of the event log as one line of JSON, and back: what `keymeter log` prints, what
// `keymeter replay --file` and FileSource read, and how the dead-letter API shows an event.
//
//   line := {"partition":P,"offset":O,"log_time":"<RFC 3339>","log_time_us":N,
//            "command_id":"...","time":"<RFC 3339>","time_us":N,
//            "actor":{"kind":"System|Operator|AccountAdmin|Member","key_id":"..."},
//            "account_id":"...","op":"<Op>","data":{<the op's fields>}}
//         | {"partition":P,"offset":O,"log_time":"...","log_time_us":N,
//            "error":{"code":"UNDECODABLE|OVERSIZED","message":"..."}}
//
// `data` holds every field of the op as docs/events.md names them: strings, integers and
// booleans as they are, enums by name ("Pending", "Day"), settings as [{"name","value"}], and
// SHA-256 digests as lowercase hex, request ids as lowercase UUIDs (32 hex digits are read back
// too; null when absent). Nothing else: the log
// never holds a secret, so neither does a line. The second form is a message that did not
// decode (its bytes are not kept: a MALFORMED-KEY-ID payload may hold a whole key).
//
// Reading a line back (ParseLogLine) builds the envelope again from these fields; the times are
// read from the `_us` members (`time` and `log_time` are for people; `time` is read when
// `time_us` is absent). A field absent from `data` keeps its schema default; an absent string
// and an empty one read alike, as the projector treats them. Unknown members are ignored.
//
// Error codes (stable): INVALID-JSON, MISSING-FIELD, INVALID-FIELD (each names the member),
// OVERSIZED (a line over the limit).
//
// Thread safety: free functions; a LogLineParser is one thread's.

#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "schemas/ids.h"
#include "schemas/status.h"

namespace keymeter {

// Where a message is in its log, and its bytes.
struct LogMessageRef {
  int32_t partition = 0;
  int64_t offset = 0;
  TimeUs log_time_us = 0;
  std::span<const uint8_t> payload;  // an envelope, 8-byte aligned (every Source's are)
};

// The line of `m` (no newline). A message that does not verify gets the error form.
std::string EncodeLogLine(const LogMessageRef& m);

// Writes the `data` object of `envelope` (already verified) into `out` as JSON, e.g. for a
// dead letter's decoded event; false when its op is unknown to this build.
bool AppendOpJson(std::string* out, std::span<const uint8_t> envelope);

struct LogLine {
  int32_t partition = 0;
  int64_t offset = 0;
  TimeUs log_time_us = 0;
  std::string envelope;  // the rebuilt envelope; empty for an error line
  Status error;          // an error line's code and message; OK otherwise
};

// True when `line` is in this format rather than a request event of POST /v1/events: it starts
// with {"partition": (as every line EncodeLogLine writes does).
bool IsLogLine(std::string_view line);

// The partition and offset a log line names, read without parsing the rest when the line
// starts as EncodeLogLine writes it ({"partition":P,"offset":O,...}); nullopt when it is not a
// log line or those are missing or malformed.
std::optional<std::pair<int32_t, int64_t>> LogLinePosition(std::string_view line);

class LogLineParser {
 public:
  explicit LogLineParser(size_t max_line_bytes = size_t{1} << 20);
  ~LogLineParser();
  LogLineParser(const LogLineParser&) = delete;
  LogLineParser& operator=(const LogLineParser&) = delete;

  Result<LogLine> Parse(std::string_view line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keymeter
