#include "engine/api_params.h"

#include <charconv>

#include "consumers/ndjson.h"

namespace keymeter {

namespace {

constexpr char kHex[] = "0123456789abcdef";

Status Invalid(std::string_view name, std::string_view what) {
  return Status("INVALID_FIELD", std::string(name) + ": " + std::string(what));
}

void AppendHex(std::string* out, uint64_t v) {
  for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kHex[(v >> shift) & 0xF]);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Reads 2*n lower-case hex digits of `text` at `pos` into bytes; false on anything else.
bool ReadHex(std::string_view text, size_t pos, size_t n, uint8_t* out) {
  if (pos + 2 * n > text.size()) return false;
  for (size_t i = 0; i < n; ++i) {
    const int hi = HexDigit(text[pos + 2 * i]);
    const int lo = HexDigit(text[pos + 2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

bool ReadHex64(std::string_view text, size_t pos, uint64_t* out) {
  uint8_t bytes[8];
  if (!ReadHex(text, pos, 8, bytes)) return false;
  *out = 0;
  for (uint8_t b : bytes) *out = *out << 8 | b;
  return true;
}

}  // namespace

std::optional<std::string_view> Param(const http::Request& request, std::string_view name) {
  std::optional<std::string_view> value = request.QueryParam(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

Result<TimeUs> TimeParam(const http::Request& request, std::string_view name, TimeUs fallback) {
  std::optional<std::string_view> text = Param(request, name);
  if (!text) return fallback;
  Result<TimeUs> parsed = ParseRfc3339(*text);
  if (!parsed) return Invalid(name, parsed.error().message());
  return parsed.value();
}

Result<size_t> LimitParam(const http::Request& request, size_t fallback, size_t max) {
  std::optional<std::string_view> text = Param(request, "limit");
  if (!text) return fallback;
  size_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 1 || value > max) {
    return Invalid("limit", "must be an integer from 1 to " + std::to_string(max));
  }
  return value;
}

Result<Granularity> GranularityParam(const http::Request& request, Granularity fallback) {
  std::optional<std::string_view> text = Param(request, "granularity");
  if (!text) return fallback;
  if (*text == "hour") return Granularity::kHour;
  if (*text == "day") return Granularity::kDay;
  if (*text == "month") return Granularity::kMonth;
  return Invalid("granularity", "must be hour, day or month");
}

std::string_view GranularityName(Granularity g) {
  switch (g) {
    case Granularity::kHour:
      return "hour";
    case Granularity::kDay:
      return "day";
    case Granularity::kMonth:
      return "month";
  }
  return "day";
}

std::string EncodeCursor(const AuditPosition& position) {
  std::string out = "a";
  AppendHex(&out, uint64_t(position.first));
  AppendHex(&out, position.second);
  return out;
}

std::string EncodeCursor(const RequestPosition& position) {
  std::string out = "r";
  AppendHex(&out, uint64_t(position.first));
  for (uint8_t b : position.second) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

Result<std::optional<AuditPosition>> AuditCursorParam(const http::Request& request) {
  std::optional<std::string_view> text = Param(request, "cursor");
  if (!text) return std::optional<AuditPosition>();
  uint64_t time = 0, seq = 0;
  if (text->size() != 33 || (*text)[0] != 'a' || !ReadHex64(*text, 1, &time) ||
      !ReadHex64(*text, 17, &seq) || time > uint64_t(INT64_MAX)) {
    return Invalid("cursor", "not a cursor of this endpoint; pass next_cursor back unchanged");
  }
  return std::optional<AuditPosition>(AuditPosition(TimeUs(time), seq));
}

Result<std::optional<RequestPosition>> RequestCursorParam(const http::Request& request) {
  std::optional<std::string_view> text = Param(request, "cursor");
  if (!text) return std::optional<RequestPosition>();
  uint64_t time = 0;
  RequestPosition position;
  if (text->size() != 49 || (*text)[0] != 'r' || !ReadHex64(*text, 1, &time) ||
      !ReadHex(*text, 17, 16, position.second.data()) || time > uint64_t(INT64_MAX)) {
    return Invalid("cursor", "not a cursor of this endpoint; pass next_cursor back unchanged");
  }
  position.first = TimeUs(time);
  return std::optional<RequestPosition>(position);
}

std::string RequestIdText(const std::array<uint8_t, 16>& id) {
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[id[i] >> 4]);
    out.push_back(kHex[id[i] & 0xF]);
  }
  return out;
}

}  // namespace keymeter
