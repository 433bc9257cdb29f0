#define BOOST_TEST_MODULE time_buckets
#include <boost/test/unit_test.hpp>

#include "projections/time_buckets.h"

using namespace keymeter;

namespace {
constexpr TimeUs At(int64_t y, unsigned m, unsigned d, int h = 0, int min = 0, int s = 0) {
  return (DaysFromCivil(y, m, d) * 86400 + h * 3600 + min * 60 + s) * kMicrosPerSecond;
}
}  // namespace

BOOST_AUTO_TEST_CASE(civil_round_trip) {
  for (int64_t day = -800000; day < 800000; day += 97) {
    CivilDate c = CivilFromDays(day);
    BOOST_REQUIRE(DaysFromCivil(c.year, c.month, c.day) == day);
  }
  BOOST_TEST(DaysFromCivil(1970, 1, 1) == 0);
  BOOST_TEST(DaysFromCivil(2000, 3, 1) - DaysFromCivil(2000, 2, 28) == 2);  // leap year
  BOOST_TEST(DaysFromCivil(1900, 3, 1) - DaysFromCivil(1900, 2, 28) == 1);  // not leap
}

BOOST_AUTO_TEST_CASE(bucket_edges_at_hour_day_month_year) {
  const TimeUs last = At(2025, 12, 31, 23, 59, 59) + 999'999;
  const TimeUs next = At(2026, 1, 1);
  BOOST_TEST(next - last == 1);
  BOOST_TEST(HourStart(last) == At(2025, 12, 31, 23));
  BOOST_TEST(HourStart(next) == next);
  BOOST_TEST(DayStart(last) == At(2025, 12, 31));
  BOOST_TEST(MonthStart(last) == At(2025, 12, 1));
  BOOST_TEST(MonthStart(next) == next);
  BOOST_TEST(NextMonthStart(last) == next);
  BOOST_TEST(MonthStart(At(2024, 2, 29, 12)) == At(2024, 2, 1));
  BOOST_TEST(NextMonthStart(At(2024, 2, 29, 12)) == At(2024, 3, 1));
  BOOST_TEST(DayStart(At(2026, 3, 29, 1, 30)) == At(2026, 3, 29));  // no DST in UTC
}

BOOST_AUTO_TEST_CASE(rfc3339) {
  BOOST_TEST(FormatRfc3339(At(2026, 11, 25, 10, 5, 7)) == "2026-11-25T10:05:07Z");
  BOOST_TEST(FormatRfc3339(At(2026, 11, 25) + 123, true) == "2026-11-25T00:00:00.000123Z");
}
