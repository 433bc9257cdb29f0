#include "projections/time_buckets.h"

#include <cstdio>

namespace keymeter {

std::string FormatRfc3339(TimeUs t, bool micros) {
  const int64_t days = FloorDiv(t, kMicrosPerDay);
  const TimeUs in_day = t - days * kMicrosPerDay;
  const CivilDate d = CivilFromDays(days);
  const int64_t secs = in_day / kMicrosPerSecond;
  char buf[96];
  if (micros) {
    std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                  (long long)d.year, d.month, d.day, (long long)(secs / 3600),
                  (long long)(secs / 60 % 60), (long long)(secs % 60),
                  (long long)(in_day % kMicrosPerSecond));
  } else {
    std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", (long long)d.year,
                  d.month, d.day, (long long)(secs / 3600), (long long)(secs / 60 % 60),
                  (long long)(secs % 60));
  }
  return buf;
}

}  // namespace keymeter
