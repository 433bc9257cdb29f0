// Request events as NDJSON, the text form of POST /v1/events and of NDJSON files
// (DESIGN §3). One JSON object per line:
//
//   {"request_id": "0f8e...32 hex" | "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",   required
//    "key_id": "8 chars [A-Za-z0-9]",                                          required
//    "time": "2026-11-25T10:00:00.123456Z" | "time_us": 1795600800123456,      one required
//    "product": "...", "units": 1, "status": 200, "bytes_in": 0, "bytes_out": 0,
//    "latency_us": 0, "ip": "IPv4 or IPv6", "gateway": "..."}                  optional
//
// `time` is RFC 3339 with a Z or ±HH:MM offset and up to 9 fractional digits (truncated to
// microseconds); when both `time` and `time_us` are given they must agree; the time must be
// after 1970. `product` and `gateway` are at most 256 bytes. Unknown members
// (an `account_id` too) are ignored: the account comes from the key directory, filled in by the
// caller. null counts as absent.
//
// Error codes (Status::code(), stable): INVALID-JSON (not JSON, or not an object),
// MISSING-FIELD (message names the field), INVALID-FIELD (wrong type, range or format; message
// names the field), OVERSIZED (a line over the limit), TOO-MANY-LINES (a whole body).
//
// Thread safety: NdjsonParser is not thread-safe (one per thread); free functions are.

#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/civil_time.h"
#include "schemas/envelope_builder.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace keymeter {

struct NdjsonLimits {
  size_t max_line_bytes = size_t{1} << 20;
  size_t max_lines = 100'000;
};

// Parses request-event lines with simdjson, reusing its buffers between lines.
class NdjsonParser {
 public:
  explicit NdjsonParser(size_t max_line_bytes = NdjsonLimits().max_line_bytes);
  ~NdjsonParser();
  NdjsonParser(const NdjsonParser&) = delete;
  NdjsonParser& operator=(const NdjsonParser&) = delete;

  // The fields of one line (without its newline); account_id is left empty.
  Result<RequestFields> Parse(std::string_view line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One line, with a parser made for the call.
Result<RequestFields> ParseRequestLine(std::string_view line);

struct NdjsonLine {
  size_t line = 0;  // 1-based line number in the body
  RequestFields fields;
};
struct NdjsonRejection {
  size_t line = 0;  // 1-based
  Status status;
};
struct NdjsonBody {
  std::vector<NdjsonLine> accepted;       // in line order
  std::vector<NdjsonRejection> rejected;  // in line order
};

// Every line of `body` ("\n" or "\r\n" separated; blank lines skipped, but counted in the
// line numbers). A bad line is rejected alone; the body fails as a whole only with
// TOO-MANY-LINES when it holds more than limits.max_lines non-blank lines.
Result<NdjsonBody> ParseNdjsonBody(std::string_view body, const NdjsonLimits& limits = {});

}  // namespace keymeter
