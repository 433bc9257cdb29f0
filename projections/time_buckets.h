// UTC calendar buckets of event time: hour, day and month starts, in microseconds (the civil
// calendar itself and RFC 3339 text are schemas/civil_time.h).
//
// Thread safety: pure functions.

#pragma once

#include <cstdint>
#include <string>

#include "schemas/civil_time.h"
#include "schemas/ids.h"

namespace keymeter {

enum class Granularity : char { kHour = 'h', kDay = 'd', kMonth = 'm' };

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

}  // namespace keymeter
