// Fuzz target: one line of `keymeter log` (consumers/log_line.h), what `replay --file` reads
// from a file anyone may have edited. Each input line is parsed with a reused parser; a line
// that parses into an envelope must verify, and printing that envelope again and parsing what
// was printed must give the same envelope bytes (the text form is canonical: nothing is lost or
// invented on the way). LogLinePosition must agree with the parser on every line it parses.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "consumers/log_line.h"
#include "schemas/envelope.h"

using namespace keymeter;

namespace {

std::span<const uint8_t> Aligned(const std::string& bytes, std::vector<uint64_t>* storage) {
  storage->assign((bytes.size() + 7) / 8, 0);
  std::memcpy(storage->data(), bytes.data(), bytes.size());
  return {reinterpret_cast<const uint8_t*>(storage->data()), bytes.size()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static LogLineParser* parser = new LogLineParser(1 << 16);  // reused, as FileSource does
  std::string_view text(reinterpret_cast<const char*>(data), size);
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    Result<LogLine> parsed = parser->Parse(line);
    if (!parsed) continue;
    const LogLine& l = parsed.value();
    if (IsLogLine(line)) {
      const auto at = LogLinePosition(line);
      if (!at || at->first != l.partition || at->second != l.offset) __builtin_trap();
    }
    if (l.envelope.empty()) continue;  // an error line
    std::vector<uint64_t> storage;
    const std::span<const uint8_t> envelope = Aligned(l.envelope, &storage);
    if (VerifyEnvelope(envelope) == nullptr) __builtin_trap();
    const std::string again = EncodeLogLine(
        {.partition = l.partition, .offset = l.offset, .log_time_us = l.log_time_us,
         .payload = envelope});
    Result<LogLine> reparsed = parser->Parse(again);
    if (!reparsed || reparsed.value().envelope != l.envelope) __builtin_trap();
  }
  return 0;
}
