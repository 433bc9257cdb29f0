// UTC calendar buckets of event time: hour, day and month starts, in microseconds.
//
// Thread safety: pure functions.

#pragma once

#include <cstdint>
#include <string>

#include "schemas/ids.h"

namespace keymeter {

enum class Granularity : char { kHour = 'h', kDay = 'd', kMonth = 'm' };

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

constexpr TimeUs HourStart(TimeUs t) { return FloorDiv(t, kMicrosPerHour) * kMicrosPerHour; }
constexpr TimeUs DayStart(TimeUs t) { return FloorDiv(t, kMicrosPerDay) * kMicrosPerDay; }
constexpr TimeUs MonthStart(TimeUs t) {
  const CivilDate d = CivilFromDays(FloorDiv(t, kMicrosPerDay));
  return DaysFromCivil(d.year, d.month, 1) * kMicrosPerDay;
}
// The start of the month after the one holding `t`.
constexpr TimeUs NextMonthStart(TimeUs t) {
  const CivilDate d = CivilFromDays(FloorDiv(t, kMicrosPerDay));
  return (d.month == 12 ? DaysFromCivil(d.year + 1, 1, 1) : DaysFromCivil(d.year, d.month + 1, 1)) *
         kMicrosPerDay;
}

constexpr TimeUs BucketStart(Granularity g, TimeUs t) {
  switch (g) {
    case Granularity::kHour: return HourStart(t);
    case Granularity::kDay: return DayStart(t);
    case Granularity::kMonth: return MonthStart(t);
  }
  return t;
}

// "2026-11-25T10:00:00Z" (seconds precision, or with 6 fractional digits when `micros`).
std::string FormatRfc3339(TimeUs t, bool micros = false);

}  // namespace keymeter
