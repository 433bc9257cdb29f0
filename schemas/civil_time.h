// The UTC civil calendar in event-time units, and RFC 3339 text both ways: what the log's
// readers and writers (NDJSON events, `keymeter log`, the API's times) and the time buckets
// share.
//
// Thread safety: pure functions.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/ids.h"
#include "schemas/status.h"

namespace keymeter {

constexpr TimeUs kMicrosPerSecond = 1'000'000;
constexpr TimeUs kMicrosPerHour = 3600 * kMicrosPerSecond;
constexpr TimeUs kMicrosPerDay = 24 * kMicrosPerHour;

// Floor division that rounds towards negative infinity.
constexpr int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Days since 1970-01-01 of a civil date (proleptic Gregorian), and back (H. Hinnant's
// algorithms).
constexpr int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = FloorDiv(y, 400);
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

struct CivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

constexpr CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = FloorDiv(z, 146097);
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = int64_t(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

// "2026-11-25T10:00:00Z" (seconds precision, or with 6 fractional digits when `micros`).
std::string FormatRfc3339(TimeUs t, bool micros = false);

// Microseconds since the epoch of an RFC 3339 date-time ("2026-11-25T10:00:00.123456Z").
// Errors: INVALID-FIELD naming what is wrong (format, month, day of month, hour...).
Result<TimeUs> ParseRfc3339(std::string_view text);

// "YYYY-MM" (1970 or later) -> the month's first microsecond (UTC); nullopt on anything else.
std::optional<TimeUs> ParseMonth(std::string_view text);

}  // namespace keymeter
