// Limits beyond the daily and monthly quota (DESIGN §1, docs/api.md "Limits"): rate windows and
// a pool's prepaid credits. Pure values and functions of event time (the projector) or wall
// time (authorize); nothing here reads a clock.
//
// Rate windows are aligned to the UTC epoch: second [t, t+1 s), minute and hour (Unix time has no
// leap seconds, so neither have they). A limit of N per window admits at most N requests whose
// times fall in one window; two adjacent windows may together admit 2N within one window's
// length (the price of windows that need two counters per key, not a log of requests).
//
// Credits: a balance of units that each request of the pool's keys spends (its `units`). A
// refill adds `refill_units` at each UTC day or month start after it was configured (never at
// once: a top-up does that): with rollover the units are added, without it the balance is raised
// to `refill_units` when below (an overdrawn balance, from requests admitted without `reserve`
// while their events were in flight, is forgiven then too). Refills are applied lazily, in event
// time, when an op or a request of the pool is applied at or after the period start; BalanceAt()
// counts those due by `now` without changing anything, so authorize and the API see them on time.
//
// Thread safety: values; the KeyDirectory that owns them states the rules.

#pragma once

#include <array>
#include <cstdint>

#include "projections/time_buckets.h"
#include "schemas/events_generated.h"
#include "schemas/ids.h"

namespace keymeter {

enum class RateWindow : uint8_t { kSecond = 0, kMinute = 1, kHour = 2 };
inline constexpr int kRateWindows = 3;
inline constexpr std::array<TimeUs, kRateWindows> kRateWindowUs = {
    1'000'000, 60'000'000, 3'600'000'000};

// Start of the window of kind `w` holding `t`.
inline TimeUs RateWindowStart(int w, TimeUs t) { return FloorDiv(t, kRateWindowUs[w]) * kRateWindowUs[w]; }

struct Credits {
  bool enabled = false;
  int64_t balance = 0;
  uint64_t refill_units = 0;
  fb::RefillPeriod refill_period = fb::RefillPeriod::None;
  bool rollover = false;
  TimeUs refilled_us = 0;  // start of the last UTC day or month whose refill the balance holds

  friend bool operator==(const Credits&, const Credits&) = default;
};

// Start of the refill period holding `t`: the UTC day or month; 0 without a refill.
TimeUs RefillPeriodStart(const Credits& c, TimeUs t);
// The next refill after `t`; 0 when credits are off or have no refill.
TimeUs NextRefill(const Credits& c, TimeUs t);
// Applies the refills due by `t` (period starts after refilled_us, up to the one holding `t`).
void RefillUntil(Credits& c, TimeUs t);
// The balance as of `t`, counting the refills due by then; `c` is unchanged.
int64_t BalanceAt(const Credits& c, TimeUs t);
// a + b, held within int64_t.
int64_t SaturatingAdd(int64_t a, int64_t b);

}  // namespace keymeter
