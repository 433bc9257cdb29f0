#include "schemas/civil_time.h"

#include <cstdio>

namespace keymeter {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeap(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

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

Result<TimeUs> ParseRfc3339(std::string_view t) {
  auto bad = [&](std::string_view what) {
    return Status(Code::kInvalidField,
                  std::string(what) + " in RFC 3339 time \"" + std::string(t.substr(0, 64)) + "\"");
  };
  int year, month, day, hour, minute, second;
  if (t.size() < 20 || !Digits(t, 0, 4, &year) || t[4] != '-' || !Digits(t, 5, 2, &month) ||
      t[7] != '-' || !Digits(t, 8, 2, &day) || (t[10] != 'T' && t[10] != 't') ||
      !Digits(t, 11, 2, &hour) || t[13] != ':' || !Digits(t, 14, 2, &minute) || t[16] != ':' ||
      !Digits(t, 17, 2, &second)) {
    return bad("not YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM)");
  }
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return bad("day out of range");
  if (hour > 23 || minute > 59 || second > 59) return bad("time of day out of range");
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < t.size() && t[pos] == '.') {
    size_t digits = 0;
    for (++pos; pos < t.size() && t[pos] >= '0' && t[pos] <= '9'; ++pos, ++digits) {
      if (digits < 6) micros = micros * 10 + (t[pos] - '0');
    }
    if (digits == 0 || digits > 9) return bad("fraction not of 1 to 9 digits");
    for (size_t i = digits; i < 6; ++i) micros *= 10;
  }
  int offset_minutes = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh = 0, om = 0;
    if (!Digits(t, pos + 1, 2, &oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
        !Digits(t, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad("bad offset");
    }
    offset_minutes = (oh * 60 + om) * (t[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad("no time zone (Z or +HH:MM)");
  }
  if (pos != t.size()) return bad("trailing characters");
  const int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                          second - int64_t{offset_minutes} * 60;
  return seconds * 1'000'000 + micros;
}

std::optional<TimeUs> ParseMonth(std::string_view text) {
  if (text.size() != 7 || text[4] != '-') return std::nullopt;
  int year = 0, month = 0;
  for (size_t i = 0; i < 7; ++i) {
    if (i == 4) continue;
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    (i < 4 ? year : month) = (i < 4 ? year : month) * 10 + (text[i] - '0');
  }
  if (year < 1970 || month < 1 || month > 12) return std::nullopt;
  return DaysFromCivil(year, unsigned(month), 1) * kMicrosPerDay;
}

}  // namespace keymeter
