// Query parameters of the read endpoints, validated with the API's codes (answered 400):
// INVALID_FIELD naming the parameter. An empty value ("?from=") counts as absent.
//
//   from, to     RFC 3339 date-times ("2026-11-25T10:00:00Z", offsets and fractions allowed)
//   limit        1..1000
//   granularity  hour | day | month
//   cursor       opaque: the "next_cursor" of the previous page, as returned
//
// Cursor grammar (lower-case hex, not a contract — clients pass them back unchanged):
//   audit cursor   := "a" hex(be64 time_us) hex(be64 seq)
//   request cursor := "r" hex(be64 time_us) hex(request_id[16])
//
// Thread safety: pure functions.

#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "http/server.h"
#include "projections/time_buckets.h"
#include "schemas/json_writer.h"
#include "schemas/status.h"

namespace keymeter {

// The parameter's value, nullopt when absent or empty.
std::optional<std::string_view> Param(const http::Request& request, std::string_view name);

Result<TimeUs> TimeParam(const http::Request& request, std::string_view name, TimeUs fallback);
Result<size_t> LimitParam(const http::Request& request, size_t fallback = 100, size_t max = 1000);
Result<Granularity> GranularityParam(const http::Request& request, Granularity fallback);
std::string_view GranularityName(Granularity g);

using AuditPosition = std::pair<TimeUs, uint64_t>;
using RequestPosition = std::pair<TimeUs, std::array<uint8_t, 16>>;

// Ends a page's list and its object — `{"<items>": [ ... ], "next_cursor": next or null}` — and
// answers it 200.
void AnswerPage(JsonWriter& json, std::string_view next_cursor, http::Response& response);

std::string EncodeCursor(const AuditPosition& position);
std::string EncodeCursor(const RequestPosition& position);
Result<std::optional<AuditPosition>> AuditCursorParam(const http::Request& request);
Result<std::optional<RequestPosition>> RequestCursorParam(const http::Request& request);

}  // namespace keymeter
