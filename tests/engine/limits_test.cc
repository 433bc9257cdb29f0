// The limits beyond the quota (docs/api.md, Limits) against a real embedded Pipeline: rate
// windows on pools and members at their edges, with and without reserve; member monthly caps;
// expiry in wall time (authorize) and event time (the projector); credits, their refills and
// their persistence; and the pure functions of projections/limits.h.
#define BOOST_TEST_MODULE limits
#include <boost/test/unit_test.hpp>

#include "engine/authorizer.h"
#include "projections/key_directory.h"
#include "projections/limits.h"
#include "projections/time_buckets.h"
#include "schemas/hex.h"
#include "tests/engine/authorizer_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

// 16 random request ids' text, for reserve.
std::string NewRequestId() { return ToHex(RandomRequestId()); }


// A fixed instant 100 ms into a UTC second, minute and hour: 2026-11-25T10:00:00.100Z.
constexpr TimeUs kAt = (DaysFromCivil(2026, 11, 25) * 86400 + 10 * 3600) * kMicrosPerSecond + 100'000;

}  // namespace

BOOST_AUTO_TEST_CASE(rate_windows_are_aligned_to_the_epoch) {
  BOOST_TEST(RateWindowStart(0, kAt) == kAt - 100'000);
  BOOST_TEST(RateWindowStart(1, kAt + 59 * kMicrosPerSecond) == kAt - 100'000);
  BOOST_TEST(RateWindowStart(1, kAt + 60 * kMicrosPerSecond) == kAt - 100'000 + 60 * kMicrosPerSecond);
  BOOST_TEST(RateWindowStart(2, kAt + kMicrosPerHour - 100'001) == kAt - 100'000);
  BOOST_TEST(RateWindowStart(2, kAt + kMicrosPerHour - 100'000) == kAt - 100'000 + kMicrosPerHour);
}

BOOST_AUTO_TEST_CASE(refills_by_day_and_month_with_and_without_rollover) {
  const TimeUs nov30 = DaysFromCivil(2026, 11, 30) * kMicrosPerDay + 5 * kMicrosPerHour;
  Credits c{.enabled = true, .balance = 30, .refill_units = 100,
            .refill_period = fb::RefillPeriod::Day, .rollover = true,
            .refilled_us = DayStart(nov30)};
  BOOST_TEST(BalanceAt(c, nov30 + kMicrosPerHour) == 30);               // same day: none due
  BOOST_TEST(BalanceAt(c, DayStart(nov30) + kMicrosPerDay) == 130);      // midnight exactly
  BOOST_TEST(BalanceAt(c, DayStart(nov30) + 3 * kMicrosPerDay - 1) == 230);  // two midnights
  c.rollover = false;
  BOOST_TEST(BalanceAt(c, nov30 + 3 * kMicrosPerDay) == 100);  // raised to 100, once
  c.balance = -40;                                             // overdrawn: forgiven
  BOOST_TEST(BalanceAt(c, nov30 + kMicrosPerDay) == 100);
  c.balance = 250;  // above the refill: kept
  BOOST_TEST(BalanceAt(c, nov30 + kMicrosPerDay) == 250);
  // Months: one refill per month start (Dec 1, Jan 1, Feb 1), whatever their lengths.
  Credits m{.enabled = true, .balance = 0, .refill_units = 7,
            .refill_period = fb::RefillPeriod::Month, .rollover = true,
            .refilled_us = MonthStart(nov30)};
  const TimeUs feb = DaysFromCivil(2027, 2, 1) * kMicrosPerDay;
  BOOST_TEST(BalanceAt(m, feb - 1) == 14);
  BOOST_TEST(BalanceAt(m, feb) == 21);
  BOOST_TEST(NextRefill(m, nov30) == DaysFromCivil(2026, 12, 1) * kMicrosPerDay);
  RefillUntil(m, feb);
  BOOST_TEST(m.balance == 21);
  BOOST_TEST(m.refilled_us == feb);
  m.enabled = false;  // off: no refill, no next one
  BOOST_TEST(BalanceAt(m, feb + 40 * kMicrosPerDay) == 21);
  BOOST_TEST(NextRefill(m, feb) == 0);
  BOOST_TEST(SaturatingAdd(INT64_MAX - 1, 5) == INT64_MAX);
  BOOST_TEST(SaturatingAdd(INT64_MIN + 1, -5) == INT64_MIN);
}

BOOST_AUTO_TEST_CASE(with_reserve_a_burst_admits_exactly_the_pool_rate_limit) {
  Engine e;
  e.seed.Account("acctR");
  const std::string parent = e.seed.Key("acctR", "ParentR1");
  const std::string a = e.seed.Key("acctR", "ChildRa1", "ParentR1");
  const std::string b = e.seed.Key("acctR", "ChildRb1", "ParentR1");
  e.seed.Rate("acctR", "ParentR1", {.per_second = 5, .per_minute = 12});
  // Ten reserves in one second from two members: five pass, the rest wait for the next second.
  int admitted = 0;
  for (int i = 0; i < 10; ++i) {
    AuthorizeResult r = e.Reserve(i % 2 ? a : b, NewRequestId(), kAt + i * 1000);
    if (r.allowed) {
      ++admitted;
      continue;
    }
    BOOST_TEST(r.reason == reason::kRateLimited);
    BOOST_TEST(r.http_status == 429);
    BOOST_TEST(r.retry_after == kAt - 100'000 + kMicrosPerSecond);  // the next second
    BOOST_TEST(r.window.limit == 5u);
    BOOST_TEST(r.window.seconds == 1u);
    BOOST_TEST(r.window.remaining == 0u);
  }
  BOOST_TEST(admitted == 5);
  // The next second admits five more of the minute's 12; the one after, the last two.
  admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += e.Reserve(a, NewRequestId(), kAt + kMicrosPerSecond).allowed;
  BOOST_TEST(admitted == 5);
  admitted = 0;
  for (int i = 0; i < 10; ++i) {
    AuthorizeResult r = e.Reserve(b, NewRequestId(), kAt + 2 * kMicrosPerSecond);
    admitted += r.allowed;
    if (!r.allowed) BOOST_TEST(r.window.seconds == 60u);  // the minute denied
  }
  BOOST_TEST(admitted == 2);
  // A new minute starts over; RateLimit-Policy lists both windows.
  AuthorizeResult fresh = e.Reserve(parent, NewRequestId(), kAt + 60 * kMicrosPerSecond);
  BOOST_TEST(fresh.allowed);
  BOOST_TEST(fresh.policy_count == 2u);
  BOOST_TEST(fresh.window.remaining == 4u);  // the second's 5 less this one: the tighter
}

BOOST_AUTO_TEST_CASE(a_member_rate_limit_holds_one_child_inside_the_pool) {
  Engine e;
  e.seed.Account("acctS");
  e.seed.Key("acctS", "ParentS1");
  const std::string slow = e.seed.Key("acctS", "SlowS001", "ParentS1");
  const std::string fast = e.seed.Key("acctS", "FastS001", "ParentS1");
  e.seed.Rate("acctS", "ParentS1", {.per_second = 10});
  e.seed.Rate("acctS", "SlowS001", {.per_second = 2});
  int slow_in = 0, fast_in = 0;
  for (int i = 0; i < 6; ++i) slow_in += e.Reserve(slow, NewRequestId(), kAt).allowed;
  for (int i = 0; i < 12; ++i) fast_in += e.Reserve(fast, NewRequestId(), kAt).allowed;
  BOOST_TEST(slow_in == 2);   // its own limit
  BOOST_TEST(fast_in == 8);   // what the pool's 10 leave
}

BOOST_AUTO_TEST_CASE(applied_requests_count_in_the_window_of_their_event_time) {
  Engine e;
  e.seed.Account("acctW");
  const std::string key = e.seed.Key("acctW", "WindowW1");
  e.seed.Rate("acctW", "WindowW1", {.per_minute = 3});
  const TimeUs now = NowUs();
  for (int i = 0; i < 3; ++i) e.seed.Request("acctW", "WindowW1", 1, RandomRequestId(), now);
  e.seed.Barrier("acctW");
  AuthorizeResult r = e.Ask(key, now);
  BOOST_TEST(r.reason == reason::kRateLimited);
  BOOST_TEST(r.retry_after == RateWindowStart(1, now) + 60 * kMicrosPerSecond);
  BOOST_TEST(e.Ask(key, RateWindowStart(1, now) + 60 * kMicrosPerSecond).allowed);  // next minute
  // The hour window survives a reopen (rebuilt from usage); the minute does not.
  e.pipeline->Stop();
  e.pipeline.reset();
  e.pipeline = OpenPipeline(e.tmp.sub("db"));
  const RateCounts counts = e.pipeline->quota().Rates(*KeyId::Parse("WindowW1"));
  BOOST_TEST(counts.At(int(RateWindow::kHour), now) == 3u);
  BOOST_TEST(counts.At(int(RateWindow::kMinute), now) == 0u);
}

BOOST_AUTO_TEST_CASE(a_member_monthly_cap_counts_units) {
  Engine e;
  e.seed.Account("acctN");
  e.seed.Key("acctN", "ParentN1");
  const std::string child = e.seed.Key("acctN", "ChildN01", "ParentN1");
  e.seed.Cap("acctN", "ChildN01", 0, 10);
  e.seed.Request("acctN", "ChildN01", 4);
  e.seed.Request("acctN", "ChildN01", 4);
  e.seed.Barrier("acctN");
  AuthorizeResult over = e.Ask(child, NowUs(), "", "", 3);
  BOOST_TEST(over.reason == reason::kMemberCapExceeded);
  BOOST_TEST(over.retry_after == NextMonthStart(NowUs()));
  AuthorizeResult fits = e.Ask(child, NowUs(), "", "", 2);
  BOOST_TEST(fits.allowed);
  BOOST_TEST(fits.remaining_monthly_units == 0u);
  // With reserve, two requests of 1 unit each: the second finds the cap full.
  BOOST_TEST(e.Reserve(child, NewRequestId(), NowUs(), 2).allowed);
  BOOST_TEST(e.Reserve(child, NewRequestId(), NowUs(), 1).reason == reason::kMemberCapExceeded);
}

BOOST_AUTO_TEST_CASE(keys_expire_in_wall_time_and_their_events_in_event_time) {
  Engine e;
  e.seed.Account("acctE");
  const std::string parent = e.seed.Key("acctE", "ParentE1");
  const std::string child = e.seed.Key("acctE", "ChildE01", "ParentE1");
  // An hour ago (events in the future would be FUTURE-TIMESTAMP); authorize takes its time.
  const TimeUs at = NowUs() - kMicrosPerHour;
  e.seed.Expiry("acctE", "ChildE01", at + kMicrosPerHour);
  e.seed.Expiry("acctE", "ParentE1", at);  // earlier: the child stops with its parent
  BOOST_TEST(e.Ask(child, at - 1).allowed);
  for (const std::string& key : {parent, child}) {
    AuthorizeResult r = e.Ask(key, at);
    BOOST_TEST(r.reason == reason::kExpired);
    BOOST_TEST(r.http_status == 403);
  }
  BOOST_TEST(e.pipeline->directory().ExpiresAt(*e.pipeline->directory().FindKey(
                 *KeyId::Parse("ChildE01"))) == at);
  // Events before the expiry count; at or after it they are dead-lettered.
  e.seed.Request("acctE", "ChildE01", 1, RandomRequestId(), at - 1);
  e.seed.Request("acctE", "ChildE01", 1, RandomRequestId(), at);
  e.seed.Barrier("acctE");
  const ProjectorStats& stats = e.pipeline->projector().stats();
  BOOST_TEST(stats.dead_letters.at("KEY-EXPIRED") == 1u);
  BOOST_TEST(e.pipeline->quota().Pool(*KeyId::Parse("ParentE1")).DayRequests(at - 1) == 1u);
  e.seed.Expiry("acctE", "ParentE1", 0);  // never: the child's own expiry applies again
  BOOST_TEST(e.Ask(child, at).allowed);
  BOOST_TEST(e.Ask(child, at + kMicrosPerHour).reason == reason::kExpired);
}

BOOST_AUTO_TEST_CASE(credits_are_spent_refilled_and_kept_across_a_reopen) {
  Engine e;
  e.seed.Account("acctK");
  const std::string parent = e.seed.Key("acctK", "ParentK1");
  const std::string child = e.seed.Key("acctK", "ChildK01", "ParentK1");
  const TimeUs now = NowUs();
  e.seed.Credits("acctK", "ParentK1", 10, now);
  // Reservations hold units: 4 + 4 fit, the next 4 does not.
  BOOST_TEST(e.Reserve(child, NewRequestId(), now, 4).allowed);
  AuthorizeResult second = e.Reserve(parent, NewRequestId(), now, 4);
  BOOST_TEST(second.allowed);
  BOOST_TEST(second.credits_evaluated);
  BOOST_TEST(second.remaining_credits == 2);
  AuthorizeResult third = e.Reserve(child, NewRequestId(), now, 4);
  BOOST_TEST(third.reason == reason::kCreditsExhausted);
  BOOST_TEST(third.http_status == 429);
  BOOST_TEST(third.retry_after == 0);  // no refill: nothing to wait for
  // Applied requests spend the balance.
  e.seed.Request("acctK", "ChildK01", 3, RandomRequestId(), now);
  e.seed.Request("acctK", "ParentK1", 5, RandomRequestId(), now);
  e.seed.Barrier("acctK");
  auto balance = [&]() {
    std::shared_lock lock(e.pipeline->projector().state_mutex());
    return e.pipeline->directory().FindKey(*KeyId::Parse("ParentK1"))->extras().credits.balance;
  };
  BOOST_TEST(balance() == 2);
  BOOST_TEST(e.Ask(child, now, "", "", 3).reason == reason::kCreditsExhausted);
  // A daily refill without rollover raises the balance to 50 at the next UTC midnight.
  e.seed.Refill("acctK", "ParentK1", 50, fb::RefillPeriod::Day, false, now);
  const TimeUs tomorrow = DayStart(now) + kMicrosPerDay;
  BOOST_TEST(e.Ask(child, tomorrow - 1, "", "", 3).reason == reason::kCreditsExhausted);
  AuthorizeResult refilled = e.Ask(child, tomorrow, "", "", 3);
  BOOST_TEST(refilled.allowed);
  BOOST_TEST(refilled.remaining_credits == 47);
  BOOST_TEST(e.Ask(child, now, "", "", 3).retry_after == tomorrow);
  // Credits off for months, then a top-up turns them on again: the refills of the months they
  // were off are not owed (rollover or not).
  e.seed.Account("acctQ");
  e.seed.Key("acctQ", "ParentQ1");
  const TimeUs march = DaysFromCivil(2026, 3, 10) * kMicrosPerDay;
  const TimeUs july = DaysFromCivil(2026, 7, 10) * kMicrosPerDay;
  e.seed.Credits("acctQ", "ParentQ1", 5, march);
  e.seed.Refill("acctQ", "ParentQ1", 100, fb::RefillPeriod::Month, true, march);
  e.seed.Refill("acctQ", "ParentQ1", 100, fb::RefillPeriod::Month, true, march, /*enabled=*/false);
  e.seed.Credits("acctQ", "ParentQ1", 1, july);
  {
    std::shared_lock lock(e.pipeline->projector().state_mutex());
    const Credits& c = e.pipeline->directory().FindKey(*KeyId::Parse("ParentQ1"))->extras().credits;
    BOOST_TEST(c.balance == 6);
    BOOST_TEST(BalanceAt(c, DaysFromCivil(2026, 8, 1) * kMicrosPerDay) == 106);  // August's only
  }
  // The balance is in the key's record: a reopen reads it back.
  e.pipeline->Stop();
  e.pipeline.reset();
  e.pipeline = OpenPipeline(e.tmp.sub("db"));
  BOOST_TEST(e.pipeline->directory().FindKey(*KeyId::Parse("ParentK1"))->extras().credits.balance ==
             2);
}
