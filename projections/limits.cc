#include "projections/limits.h"

#include <algorithm>
#include <limits>

namespace keymeter {

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

TimeUs RefillPeriodStart(const Credits& c, TimeUs t) {
  switch (c.refill_period) {
    case fb::RefillPeriod::Day:
      return DayStart(t);
    case fb::RefillPeriod::Month:
      return MonthStart(t);
    default:
      return 0;
  }
}

TimeUs NextRefill(const Credits& c, TimeUs t) {
  if (!c.enabled) return 0;
  switch (c.refill_period) {
    case fb::RefillPeriod::Day:
      return DayStart(t) + kMicrosPerDay;
    case fb::RefillPeriod::Month:
      return NextMonthStart(t);
    default:
      return 0;
  }
}

void RefillUntil(Credits& c, TimeUs t) {
  if (!c.enabled || c.refill_period == fb::RefillPeriod::None) return;
  const TimeUs period = RefillPeriodStart(c, t);
  if (period <= c.refilled_us) return;
  if (c.refilled_us == 0) {  // no refill configured before: the first one is the next period's
    c.refilled_us = period;
    return;
  }
  const int64_t amount = int64_t(std::min<uint64_t>(c.refill_units, std::numeric_limits<int64_t>::max()));
  if (!c.rollover) {
    c.balance = std::max(c.balance, amount);
  } else if (c.refill_period == fb::RefillPeriod::Day) {
    const int64_t days = (period - c.refilled_us) / kMicrosPerDay;
    int64_t added = 0;
    if (__builtin_mul_overflow(days, amount, &added)) added = std::numeric_limits<int64_t>::max();
    c.balance = SaturatingAdd(c.balance, added);
  } else {
    // One refill per month start in (refilled_us, period]; months differ in length.
    for (TimeUs m = NextMonthStart(c.refilled_us); m <= period; m = NextMonthStart(m)) {
      c.balance = SaturatingAdd(c.balance, amount);
    }
  }
  c.refilled_us = period;
}

int64_t BalanceAt(const Credits& c, TimeUs t) {
  Credits copy = c;
  RefillUntil(copy, t);
  return copy.balance;
}

}  // namespace keymeter
