// Quota windows (projections/quota.h): requests per UTC day and units per UTC month, windows that
// move forward with event time and ignore late events, pools per root and member windows per
// child, and Restore() from the usage projection of a real store equal to the live windows.
#define BOOST_TEST_MODULE quota
#include "projections/quota.h"

#include <rocksdb/write_batch.h>

#include <boost/test/unit_test.hpp>

#include "projections/time_buckets.h"
#include "projections/usage.h"
#include "tests/projections/directory_fixture.h"

using namespace keymeter;
using keymeter::testing::DirectoryFixture;

namespace {

constexpr TimeUs At(int64_t y, unsigned m, unsigned d, int h = 0, int min = 0, int s = 0) {
  return (DaysFromCivil(y, m, d) * 86400 + h * 3600 + min * 60 + s) * kMicrosPerSecond;
}

const KeyId kRoot = *KeyId::Parse("ParentAA");
const KeyId kChild = *KeyId::Parse("ChildAA1");
const KeyId kChild2 = *KeyId::Parse("ChildAA2");
const KeyId kSolo = *KeyId::Parse("Solo0001");

}  // namespace

BOOST_AUTO_TEST_SUITE(quota_window)

BOOST_AUTO_TEST_CASE(counts_requests_per_utc_day_and_units_per_utc_month) {
  QuotaWindow w;
  BOOST_TEST(w.DayRequests(At(2026, 3, 10)) == 0u);
  BOOST_TEST(w.MonthUnits(At(2026, 3, 10)) == 0u);
  w.Count(At(2026, 3, 10, 0, 0, 0), 1, 5);
  w.Count(At(2026, 3, 10, 23, 59, 59) + 999'999, 2, 7);  // the last microsecond of the day
  BOOST_TEST(w.latest_day() == At(2026, 3, 10));
  BOOST_TEST(w.latest_month() == At(2026, 3, 1));
  BOOST_TEST(w.DayRequests(At(2026, 3, 10, 12)) == 3u);
  BOOST_TEST(w.MonthUnits(At(2026, 3, 10, 12)) == 12u);
  // As of the next day the day window is empty; the month goes on.
  BOOST_TEST(w.DayRequests(At(2026, 3, 11)) == 0u);
  BOOST_TEST(w.MonthUnits(At(2026, 3, 31, 23, 59, 59)) == 12u);
  BOOST_TEST(w.MonthUnits(At(2026, 4, 1)) == 0u);
  // An event of the next day starts a new day window and adds to the month.
  w.Count(At(2026, 3, 11, 0, 0, 0), 1, 1);
  BOOST_TEST(w.DayRequests(At(2026, 3, 11, 8)) == 1u);
  BOOST_TEST(w.DayRequests(At(2026, 3, 10, 8)) == 3u);  // each day is counted apart
  BOOST_TEST(w.MonthUnits(At(2026, 3, 11, 8)) == 13u);
}

BOOST_AUTO_TEST_CASE(a_new_month_resets_the_month_window) {
  QuotaWindow w;
  w.Count(At(2025, 12, 31, 23, 59, 59), 1, 100);
  w.Count(At(2026, 1, 1), 1, 3);  // new day, new month and new year
  BOOST_TEST(w.DayRequests(At(2026, 1, 1, 1)) == 1u);
  BOOST_TEST(w.MonthUnits(At(2026, 1, 1, 1)) == 3u);
  BOOST_TEST(w.latest_month() == At(2026, 1, 1));
  // February of a leap year has a 29th day, still in February's window.
  QuotaWindow leap;
  leap.Count(At(2028, 2, 1), 1, 10);
  leap.Count(At(2028, 2, 29, 23), 1, 10);
  BOOST_TEST(leap.MonthUnits(At(2028, 2, 29, 23, 30)) == 20u);
  BOOST_TEST(leap.DayRequests(At(2028, 2, 29, 23, 30)) == 1u);
  leap.Count(At(2028, 3, 1), 1, 1);
  BOOST_TEST(leap.MonthUnits(At(2028, 3, 1, 0, 0, 1)) == 1u);
}

// An event up to the projector's future tolerance ahead may fall in the next day or month: it
// opens that period's count beside the current one and never resets it (before, one such event
// made authorize see 0 used until midnight).
BOOST_AUTO_TEST_CASE(a_future_dated_event_never_resets_the_current_day_or_month) {
  QuotaWindow w;
  w.Count(At(2026, 3, 31, 23, 50), 3, 30);
  w.Count(At(2026, 4, 1, 0, 2), 1, 7);  // two minutes ahead of a clock at 23:58
  const TimeUs now = At(2026, 3, 31, 23, 58);
  BOOST_TEST(w.DayRequests(now) == 3u);
  BOOST_TEST(w.MonthUnits(now) == 30u);
  w.Count(At(2026, 3, 31, 23, 59), 1, 2);  // today's requests go on counting
  BOOST_TEST(w.DayRequests(now) == 4u);
  BOOST_TEST(w.MonthUnits(now) == 32u);
  // Once midnight has passed, the new day and month hold the early event.
  BOOST_TEST(w.DayRequests(At(2026, 4, 1, 0, 5)) == 1u);
  BOOST_TEST(w.MonthUnits(At(2026, 4, 1, 0, 5)) == 7u);
  w.Count(At(2026, 4, 1, 0, 6), 1, 1);
  BOOST_TEST(w.DayRequests(At(2026, 4, 1, 0, 7)) == 2u);
  // A later day still replaces the oldest count, not the latest.
  w.Count(At(2026, 4, 2, 9), 1, 1);
  BOOST_TEST(w.DayRequests(At(2026, 4, 1, 12)) == 2u);
  BOOST_TEST(w.DayRequests(At(2026, 3, 31, 12)) == 0u);
  BOOST_TEST(w.DayRequests(At(2026, 4, 2, 12)) == 1u);
}

BOOST_AUTO_TEST_CASE(late_events_leave_the_windows_alone) {
  QuotaWindow w;
  w.Count(At(2026, 3, 10, 9), 1, 5);
  // A late event of an earlier day: not in today's requests, but in this month's units.
  w.Count(At(2026, 3, 9, 23), 1, 2);
  BOOST_TEST(w.latest_day() == At(2026, 3, 10));
  BOOST_TEST(w.DayRequests(At(2026, 3, 10, 10)) == 1u);
  BOOST_TEST(w.MonthUnits(At(2026, 3, 10, 10)) == 7u);
  // A late event of an earlier month changes neither window.
  w.Count(At(2026, 2, 28, 23), 1, 40);
  BOOST_TEST(w.DayRequests(At(2026, 3, 10, 10)) == 1u);
  BOOST_TEST(w.MonthUnits(At(2026, 3, 10, 10)) == 7u);
  BOOST_TEST(w.latest_month() == At(2026, 3, 1));
  // Late inside the current day still counts.
  w.Count(At(2026, 3, 10, 0, 1), 1, 1);
  BOOST_TEST(w.DayRequests(At(2026, 3, 10, 10)) == 2u);
}

BOOST_AUTO_TEST_CASE(pools_belong_to_roots_and_member_windows_to_children) {
  QuotaWindows q;
  BOOST_TEST(q.size() == 0u);
  const TimeUs t = At(2026, 5, 5, 5);
  q.Count(kChild, kRoot, t, 3);
  q.Count(kChild, kRoot, t + 1, 4);
  q.Count(kChild2, kRoot, t + 2, 10);
  q.Count(kRoot, kRoot, t + 3, 1);
  q.Count(kSolo, kSolo, t + 4, 2);
  // The pool holds the root's own requests and its children's.
  BOOST_TEST(q.Pool(kRoot).DayRequests(t) == 4u);
  BOOST_TEST(q.Pool(kRoot).MonthUnits(t) == 18u);
  BOOST_TEST(q.Pool(kSolo).DayRequests(t) == 1u);
  // A child's member window holds its own requests only; a root key has none.
  BOOST_TEST(q.Member(kChild).DayRequests(t) == 2u);
  BOOST_TEST(q.Member(kChild2).DayRequests(t) == 1u);
  BOOST_TEST(q.Member(kRoot).DayRequests(t) == 0u);
  BOOST_TEST(q.Member(kSolo).latest_day() == 0);
  // A child has no pool of its own.
  BOOST_TEST(q.Pool(kChild).DayRequests(t) == 0u);
  BOOST_TEST(q.Pool(kChild).MonthUnits(t) == 0u);
  BOOST_TEST(q.size() == 4u);  // pools of ParentAA and Solo0001, members ChildAA1 and ChildAA2
  // A new day resets the day counts of pool and members alike.
  q.Count(kChild, kRoot, At(2026, 5, 6), 1);
  BOOST_TEST(q.Pool(kRoot).DayRequests(At(2026, 5, 6, 1)) == 1u);
  BOOST_TEST(q.Pool(kRoot).MonthUnits(At(2026, 5, 6, 1)) == 19u);
  BOOST_TEST(q.Member(kChild).DayRequests(At(2026, 5, 6, 1)) == 1u);
  BOOST_TEST(q.Member(kChild2).DayRequests(At(2026, 5, 6, 1)) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// Restore on a real store: the usage column family written as the projector writes it, and the
// windows the projector counted live alongside.
struct RestoreFixture : DirectoryFixture {
  RestoreFixture() {
    BOOST_REQUIRE(CreateAccount("acctQ") == "OK");
    BOOST_REQUIRE(Issue("acctQ", "ParentAA", "", fb::KeyStatus::Active) == "OK");
    BOOST_REQUIRE(Issue("acctQ", "ChildAA1", "ParentAA", fb::KeyStatus::Active) == "OK");
    BOOST_REQUIRE(Issue("acctQ", "ChildAA2", "ParentAA", fb::KeyStatus::Active) == "OK");
    BOOST_REQUIRE(Issue("acctQ", "Solo0001", "", fb::KeyStatus::Active) == "OK");
    BOOST_REQUIRE(Issue("acctQ", "Idle0001", "", fb::KeyStatus::Active) == "OK");
  }
  // One request of `key` as the projector applies it: to usage and to the live windows.
  void Request(KeyId key, TimeUs t, uint32_t units) {
    const KeyId root = directory->RootOf(*directory->FindKey(key));
    usage.Add(UsageEvent{.account_id = "acctQ",
                         .key = key,
                         .root = root,
                         .product = "whois",
                         .time_us = t,
                         .units = units});
    live.Count(key, root, t, units);
  }
  void Commit() {
    rocksdb::WriteBatch b;
    usage.MoveInto(&b, store->cfs()[Cf::kUsage]);
    BOOST_REQUIRE(store->Write(&b).ok());
  }
  QuotaWindows Restored(TimeUs t) {
    QuotaWindows q;
    q.Count(kSolo, kSolo, At(2020, 1, 1), 99);  // Restore replaces whatever was there
    Status s = q.Restore(store->db(), store->cfs()[Cf::kUsage], *directory, t);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    return q;
  }
  // The windows as authorize reads them, as of `t`.
  void CheckEqual(const QuotaWindows& restored, const QuotaWindows& expected, TimeUs t) {
    for (KeyId k : {kRoot, kSolo, *KeyId::Parse("Idle0001")}) {
      BOOST_TEST_CONTEXT("pool " << k.str()) {
        BOOST_TEST(restored.Pool(k).DayRequests(t) == expected.Pool(k).DayRequests(t));
        BOOST_TEST(restored.Pool(k).MonthUnits(t) == expected.Pool(k).MonthUnits(t));
      }
    }
    for (KeyId k : {kChild, kChild2}) {
      BOOST_TEST_CONTEXT("member " << k.str()) {
        BOOST_TEST(restored.Member(k).DayRequests(t) == expected.Member(k).DayRequests(t));
      }
    }
  }
  UsageBatch usage;
  QuotaWindows live;
};

BOOST_FIXTURE_TEST_SUITE(quota_restore, RestoreFixture)

BOOST_AUTO_TEST_CASE(restore_equals_the_live_windows) {
  // Last month, earlier this month, yesterday and today, in two batches.
  Request(kChild, At(2026, 4, 30, 23), 50);
  Request(kSolo, At(2026, 5, 2, 10), 7);
  Request(kChild2, At(2026, 5, 19, 22), 3);
  Commit();
  Request(kChild, At(2026, 5, 20, 0, 30), 2);
  Request(kChild, At(2026, 5, 20, 9), 2);
  Request(kRoot, At(2026, 5, 20, 10), 1);
  Request(kChild2, At(2026, 5, 20, 11), 4);
  Commit();
  const TimeUs now = At(2026, 5, 20, 12);
  const QuotaWindows restored = Restored(now);
  CheckEqual(restored, live, now);
  BOOST_TEST(restored.Pool(kRoot).DayRequests(now) == 4u);
  BOOST_TEST(restored.Pool(kRoot).MonthUnits(now) == 12u);  // April's 50 are not this month's
  BOOST_TEST(restored.Pool(kSolo).DayRequests(now) == 0u);
  BOOST_TEST(restored.Pool(kSolo).MonthUnits(now) == 7u);
  BOOST_TEST(restored.Member(kChild).DayRequests(now) == 2u);
  BOOST_TEST(restored.Member(kChild2).DayRequests(now) == 1u);
  BOOST_TEST(restored.Pool(*KeyId::Parse("Idle0001")).MonthUnits(now) == 0u);
  // Counting goes on from the restored windows as it does from the live ones.
  QuotaWindows resumed = restored;
  for (QuotaWindows* q : {&resumed, &live}) q->Count(kChild, kRoot, At(2026, 5, 20, 13), 5);
  CheckEqual(resumed, live, At(2026, 5, 20, 14));
  BOOST_TEST(resumed.Member(kChild).DayRequests(At(2026, 5, 20, 14)) == 3u);
}

BOOST_AUTO_TEST_CASE(restore_holds_the_day_and_month_of_now) {
  Request(kChild, At(2026, 5, 31, 20), 6);
  Request(kRoot, At(2026, 5, 31, 21), 1);
  Commit();
  const TimeUs may = At(2026, 5, 31, 23, 59);
  QuotaWindows same_day = Restored(may);
  BOOST_TEST(same_day.Pool(kRoot).DayRequests(may) == 2u);
  BOOST_TEST(same_day.Pool(kRoot).MonthUnits(may) == 7u);
  BOOST_TEST(same_day.Member(kChild).DayRequests(may) == 1u);
  // A minute later it is June: nothing of May is left in the windows.
  const TimeUs june = At(2026, 6, 1, 0, 0, 1);
  QuotaWindows restored = Restored(june);
  BOOST_TEST(restored.Pool(kRoot).DayRequests(june) == 0u);
  BOOST_TEST(restored.Pool(kRoot).MonthUnits(june) == 0u);
  BOOST_TEST(restored.Member(kChild).DayRequests(june) == 0u);
  // The window Restored() put there first (2020) was replaced.
  BOOST_TEST(restored.Pool(kSolo).MonthUnits(At(2020, 1, 1)) == 0u);
  BOOST_TEST(same_day.Pool(kSolo).DayRequests(At(2020, 1, 1)) == 0u);
  CheckEqual(restored, live, june);
}

BOOST_AUTO_TEST_CASE(restore_survives_a_reopen_and_follows_the_hierarchy_at_apply_time) {
  const TimeUs t = At(2026, 7, 4, 8);
  Request(kChild, t, 2);
  Commit();
  // The child is detached: its past requests stay in ParentAA's pool, its new ones are its own.
  BOOST_REQUIRE(SetParent("acctQ", "ChildAA1", "") == "OK");
  Request(kChild, t + kMicrosPerHour, 3);
  Commit();
  Reopen();
  const TimeUs now = t + 2 * kMicrosPerHour;
  QuotaWindows restored = Restored(now);
  BOOST_TEST(restored.Pool(kRoot).DayRequests(now) == 1u);
  BOOST_TEST(restored.Pool(kChild).DayRequests(now) == 1u);
  BOOST_TEST(restored.Pool(kChild).MonthUnits(now) == 3u);
  BOOST_TEST(restored.Pool(kRoot).MonthUnits(now) == live.Pool(kRoot).MonthUnits(now));
  BOOST_TEST(restored.Pool(kChild).MonthUnits(now) == live.Pool(kChild).MonthUnits(now));
}

BOOST_AUTO_TEST_SUITE_END()
