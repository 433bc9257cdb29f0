#include "api/params.h"

#include <charconv>

#include "consumers/ndjson.h"
#include "http/json.h"
#include "schemas/hex.h"

namespace keymeter {

namespace {

Status Invalid(std::string_view name, std::string_view what) {
  return Status(Code::kInvalidField, std::string(name) + ": " + std::string(what));
}

void AppendHex64(std::string* out, uint64_t v) {
  uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = uint8_t(v >> (56 - 8 * i));
  AppendHex(out, bytes);
}

// Reads the 16 hex digits of `text` at `pos` as a big-endian uint64; false on anything else.
bool ReadHex64(std::string_view text, size_t pos, uint64_t* out) {
  uint8_t bytes[8];
  if (pos > text.size() || !DecodeHex(text.substr(pos, 16), bytes)) return false;
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
  AppendHex64(&out, uint64_t(position.first));
  AppendHex64(&out, position.second);
  return out;
}

std::string EncodeCursor(const RequestPosition& position) {
  std::string out = "r";
  AppendHex64(&out, uint64_t(position.first));
  AppendHex(&out, position.second);
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
      !DecodeHex(text->substr(17), position.second) || time > uint64_t(INT64_MAX)) {
    return Invalid("cursor", "not a cursor of this endpoint; pass next_cursor back unchanged");
  }
  position.first = TimeUs(time);
  return std::optional<RequestPosition>(position);
}

void AnswerPage(JsonWriter& json, std::string_view next_cursor, http::Response& response) {
  json.EndArray().Key("next_cursor");
  next_cursor.empty() ? json.Null() : json.String(next_cursor);
  http::SetJson(response, 200, json.EndObject().Take());
}

}  // namespace keymeter
