// Fuzz target: request events as NDJSON (consumers/ndjson.h), the body of POST /v1/events and
// of NDJSON files. The whole input is parsed as a body with small limits (so the OVERSIZED and
// TOO-MANY-LINES paths are reached), its first line alone with a reused parser, and as an
// RFC 3339 time. Accepted fields must be within their documented formats, and every accepted
// line must build an envelope that DecodeEnvelope accepts once
// its account is filled in (what the gateway endpoint does).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "consumers/decode.h"
#include "consumers/ndjson.h"

using namespace keymeter;

namespace {

void CheckAccepted(RequestFields fields) {
  if (fields.key_id.size() != kKeyIdLength || fields.time_us <= 0) __builtin_trap();
  // An accepted "ip" is an address and nothing else (text after a NUL would ride along).
  if (fields.client_ip.find('\0') != std::string::npos || fields.client_ip.size() > 45) {
    __builtin_trap();
  }
  if (fields.product.size() > 256 || fields.gateway_id.size() > 256) __builtin_trap();
  fields.account_id = "acct000000000001";
  PayloadArena arena;
  const std::string envelope = BuildRequestEvent(fields);
  arena.Add({reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()});
  if (!DecodeEnvelope(arena[0]).ok()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static NdjsonParser* parser = new NdjsonParser(4096);  // reused across inputs, as in serving

  Result<NdjsonBody> body = ParseNdjsonBody(text, NdjsonLimits{.max_line_bytes = 2048,
                                                               .max_lines = 64});
  if (body) {
    for (const NdjsonLine& line : body.value().accepted) CheckAccepted(line.fields);
    for (const NdjsonRejection& r : body.value().rejected) {
      if (r.status.ok() || r.line == 0) __builtin_trap();
    }
  } else if (body.error().name() != "TOO-MANY-LINES") {
    __builtin_trap();
  }

  const std::string_view first = text.substr(0, text.find('\n'));
  Result<RequestFields> line = parser->Parse(first);
  if (line) CheckAccepted(line.value());
  (void)ParseRfc3339(first);
  return 0;
}
