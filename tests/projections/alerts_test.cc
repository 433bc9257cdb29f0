// Threshold alerts (projections/alerts.h): crossed once per window at each percent, resolved
// when the window ends or the limit or the thresholds change; late events count nothing; ids are
// a function of what an alert is about (the same log raises the same ids); AlertThresholdsSet
// validates, starts counting and is kept in the key's record; alerts round-trip the store.
#define BOOST_TEST_MODULE alerts
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "projections/alerts.h"
#include "projections/key_codec.h"
#include "projections/time_buckets.h"
#include "tests/projections/key_ops_fixture.h"

namespace keymeter {
std::ostream& operator<<(std::ostream& out, const Alert& a) {
  return out << a.alert_id << (a.resolved ? " resolved " : " crossed ") << a.metric << " "
             << int(a.percent) << "% of " << a.limit << " at " << a.time_us;
}
}  // namespace keymeter

using namespace keymeter;
using namespace keymeter::testing;

namespace {

const TimeUs kDay = DaysFromCivil(2026, 11, 3) * kMicrosPerDay;  // a Tuesday, 00:00 UTC

// A root key with a daily quota of 10 requests and thresholds 50 % and 100 %, counting from kDay.
KeyState Pool() {
  KeyState k;
  k.id = *KeyId::Parse("PoolKey1");
  k.account_id = "acctAAAA";
  k.daily_requests = 10;
  KeyExtras& x = k.mutable_extras();
  x.alert_percents = {50, 100};
  x.alert_day = {.start = kDay};
  x.alert_month = {.start = MonthStart(kDay)};
  return k;
}

// "crossed 50 daily_requests" for each alert.
std::vector<std::string> Names(const std::vector<Alert>& alerts) {
  std::vector<std::string> out;
  for (const Alert& a : alerts) {
    out.push_back(std::string(a.resolved ? "resolved " : "crossed ") + std::to_string(a.percent) +
                  " " + a.metric + " " + std::to_string(a.limit));
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(crossed_once_per_window_resolved_when_it_ends) {
  KeyState pool = Pool();
  std::vector<Alert> out;
  for (int i = 1; i <= 12; ++i) CountForAlerts(pool, false, kDay + i * 1'000'000, 1, &out);
  const std::vector<std::string> crossed = {"crossed 50 daily_requests 10",
                                            "crossed 100 daily_requests 10"};
  BOOST_TEST(Names(out) == crossed, boost::test_tools::per_element());
  BOOST_TEST(out[0].value == 5u);
  BOOST_TEST(out[1].value == 10u);
  BOOST_TEST(out[0].window_start_us == kDay);
  const std::vector<Alert> first = out;
  out.clear();
  // The next day: what the day crossed is resolved, and counting starts again.
  CountForAlerts(pool, false, kDay + kMicrosPerDay + 5, 1, &out);
  const std::vector<std::string> resolved = {"resolved 50 daily_requests 10",
                                             "resolved 100 daily_requests 10"};
  BOOST_TEST(Names(out) == resolved, boost::test_tools::per_element());
  BOOST_TEST(out[0].resolves == first[0].alert_id);
  BOOST_TEST(out[1].resolves == first[1].alert_id);
  BOOST_TEST(out[0].window_start_us == kDay);
  BOOST_TEST(pool.extras().alert_day.count == 1u);
  out.clear();
  // A late event of the day before counts nothing here.
  for (int i = 0; i < 10; ++i) CountForAlerts(pool, false, kDay + 7, 1, &out);
  BOOST_TEST(out.empty());
  BOOST_TEST(pool.extras().alert_day.count == 1u);
  // The same requests on a fresh copy raise the same ids.
  KeyState again = Pool();
  std::vector<Alert> replayed;
  for (int i = 1; i <= 12; ++i) CountForAlerts(again, false, kDay + i * 1'000'000, 1, &replayed);
  BOOST_TEST(replayed == first, boost::test_tools::per_element());
  BOOST_TEST(first[0].alert_id != first[1].alert_id);
}

BOOST_AUTO_TEST_CASE(a_changed_limit_resolves_and_raises_under_the_new_one) {
  KeyState pool = Pool();
  std::vector<Alert> out;
  for (int i = 0; i < 10; ++i) CountForAlerts(pool, false, kDay + 1, 1, &out);
  out.clear();
  const AlertWatch before = AlertWatchOf(pool);
  pool.daily_requests = 20;  // 10 of 20: still over 50 % (of the new limit), under 100 %
  AlertChanges(before, AlertWatchOf(pool), kDay + 2, &out);
  const std::vector<std::string> expected = {"resolved 50 daily_requests 10",
                                             "crossed 50 daily_requests 20",
                                             "resolved 100 daily_requests 10"};
  BOOST_TEST(Names(out) == expected, boost::test_tools::per_element());
  out.clear();
  // Thresholds off: what is open is resolved.
  const AlertWatch on = AlertWatchOf(pool);
  pool.mutable_extras().alert_percents.clear();
  AlertChanges(on, AlertWatchOf(pool), kDay + 3, &out);
  BOOST_TEST(Names(out) == std::vector<std::string>{"resolved 50 daily_requests 20"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_member_cap_alerts_as_member_monthly_units_too) {
  KeyState child = Pool();
  child.parent = *KeyId::Parse("PoolKey0");
  child.daily_requests = 0;
  child.member_cap = 0;
  child.mutable_extras().member_monthly_units = 1000;
  std::vector<Alert> out;
  CountForAlerts(child, true, kDay + 1, 499, &out);
  BOOST_TEST(out.empty());
  CountForAlerts(child, true, kDay + 2, 1, &out);
  BOOST_TEST(Names(out) == std::vector<std::string>{"crossed 50 member_monthly_units 1000"},
             boost::test_tools::per_element());
  BOOST_TEST(CheckThresholds({50, 80, 100}).ok());
  for (const std::vector<uint8_t>& bad : std::vector<std::vector<uint8_t>>{
           {0}, {101}, {50, 50}, {1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
    BOOST_TEST(CheckThresholds(bad).code() == Code::kInvalidThresholds);
  }
}

BOOST_FIXTURE_TEST_CASE(the_op_validates_starts_counting_and_is_kept, KeyOpsFixture) {
  Setup();
  BOOST_TEST(Outcome(BuildAlertThresholdsSet(A(), "ParentAA", {50, 101})) == "INVALID-THRESHOLDS");
  BOOST_TEST(Outcome(BuildAlertThresholdsSet(A(), "ParentAA", {100, 80})) == "OK");
  const KeyState* key = directory->FindKey(*KeyId::Parse("ParentAA"));
  BOOST_REQUIRE(key != nullptr);
  BOOST_TEST(key->extras().alert_percents == (std::vector<uint8_t>{80, 100}));
  BOOST_TEST(key->extras().alert_day.start == DayStart(A().time_us));
  BOOST_TEST(directory->any_alerts());
  std::optional<KeyState> stored = DecodeKey(KeyRecords().at("ParentAA"));
  BOOST_REQUIRE(stored.has_value());
  BOOST_TEST(stored->extras().alert_percents == key->extras().alert_percents);
  BOOST_TEST((stored->extras().alert_day == key->extras().alert_day));
  BOOST_TEST(Outcome(BuildAlertThresholdsSet(A(), "ParentAA", {})) == "OK");
  BOOST_TEST(key->extras().alert_day.start == 0);

  // Alerts round-trip the store, newest first, by key, in pages.
  rocksdb::WriteBatch batch;
  KeyState pool = Pool();
  std::vector<Alert> raised;
  for (int i = 1; i <= 30; ++i) {  // 5 a day: 50 % crossed, and resolved the next day
    for (int j = 0; j < 5; ++j) CountForAlerts(pool, false, kDay + i * kMicrosPerDay + j, 1, &raised);
  }
  BOOST_REQUIRE_EQUAL(raised.size(), 59u);
  for (const Alert& a : raised) PutAlert(&batch, store->cfs()[Cf::kAlerts], a);
  BOOST_REQUIRE(store->Write(&batch).ok());
  std::vector<Alert> read;
  std::string cursor;
  do {
    Result<AlertPage> page = ReadAlerts(store->db(), store->cfs()[Cf::kAlerts], "acctAAAA",
                                        "PoolKey1", 7, cursor);
    BOOST_REQUIRE(page.has_value());
    read.insert(read.end(), page.value().alerts.begin(), page.value().alerts.end());
    cursor = page.value().next_cursor;
  } while (!cursor.empty());
  BOOST_REQUIRE_EQUAL(read.size(), raised.size());
  std::reverse(read.begin(), read.end());
  BOOST_TEST(read == raised, boost::test_tools::per_element());
  BOOST_TEST(ReadAlerts(store->db(), store->cfs()[Cf::kAlerts], "acctAAAA", "Other001", 7, "")
                 .value()
                 .alerts.empty());
  BOOST_TEST(ReadAlerts(store->db(), store->cfs()[Cf::kAlerts], "acctAAAA", "", 7, "zz")
                 .error()
                 .code() == Code::kInvalidField);
}

// A pool's credits: thresholds watch the units spent of the balance the window opened with; a
// top-up resolves (a new window), a refill opens a new window at its period.
BOOST_AUTO_TEST_CASE(credits_alert_on_what_the_window_spent_top_ups_and_refills_resolve) {
  KeyState pool;
  pool.id = *KeyId::Parse("CredKey1");
  pool.account_id = "acctAAAA";
  KeyExtras& x = pool.mutable_extras();
  x.credits = {.enabled = true, .balance = 100, .refill_units = 100,
               .refill_period = fb::RefillPeriod::Day, .rollover = false, .refilled_us = kDay};
  x.alert_percents = {50, 100};
  OpenCreditsWindow(pool, kDay + 1);
  BOOST_TEST(x.alert_credits.opening == 100);
  std::vector<Alert> out;
  auto spend = [&](TimeUs t, uint32_t units) {  // as the projector: spend, then count
    RefillUntil(x.credits, t);
    x.credits.balance -= units;
    CountForAlerts(pool, false, t, units, &out);
  };
  for (int i = 1; i <= 6; ++i) spend(kDay + i * 1'000'000, 10);
  BOOST_TEST(Names(out) == std::vector<std::string>{"crossed 50 credits 100"},
             boost::test_tools::per_element());
  const std::string crossed = out[0].alert_id;
  BOOST_TEST(out[0].value == 50u);
  BOOST_TEST(out[0].window_start_us == kDay + 1);

  // A top-up: the window opens again with the balance after it (40 + 60): the 50 % resolves.
  out.clear();
  const AlertWatch before = AlertWatchOf(pool);
  x.credits.balance += 60;
  OpenCreditsWindow(pool, kDay + 10'000'000);
  AlertChanges(before, AlertWatchOf(pool), kDay + 10'000'000, &out);
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  BOOST_TEST(out[0].resolved);
  BOOST_TEST(out[0].resolves == crossed);
  BOOST_TEST(x.alert_credits.opening == 100);

  // 100 of 100 spent: both thresholds.
  out.clear();
  spend(kDay + 11'000'000, 100);
  BOOST_TEST(Names(out) == (std::vector<std::string>{"crossed 50 credits 100",
                                                      "crossed 100 credits 100"}),
             boost::test_tools::per_element());
  // The next day's refill (no rollover: the balance is set to 100) opens a new window: the
  // crossings resolve, and 10 of 100 is under both.
  out.clear();
  spend(kDay + kMicrosPerDay + 5, 10);
  BOOST_TEST(Names(out) == (std::vector<std::string>{"resolved 50 credits 100",
                                                      "resolved 100 credits 100"}),
             boost::test_tools::per_element());
  BOOST_TEST(x.alert_credits.start == kDay + kMicrosPerDay);
  BOOST_TEST(x.alert_credits.opening == 100);
  BOOST_TEST(x.alert_credits.spent == 10u);
  // Credits off closes the window; a child never has one.
  x.credits.enabled = false;
  OpenCreditsWindow(pool, kDay + kMicrosPerDay + 6);
  BOOST_TEST(x.alert_credits.start == 0);
}

// The window is in the key's record: a reload counts on from where it was.
BOOST_FIXTURE_TEST_CASE(credits_window_opens_with_the_ops_and_is_kept, KeyOpsFixture) {
  Setup();
  BOOST_REQUIRE(Outcome(BuildCreditsAdded(A(), "ParentAA", 500, "opening")) == "OK");
  BOOST_REQUIRE(Outcome(BuildAlertThresholdsSet(A(), "ParentAA", {80})) == "OK");
  const KeyState* k = directory->FindKey(*KeyId::Parse("ParentAA"));
  BOOST_REQUIRE(k != nullptr);
  BOOST_TEST(k->extras().alert_credits.opening == 500);
  const TimeUs opened = k->extras().alert_credits.start;
  BOOST_TEST(opened != 0);
  BOOST_REQUIRE(Outcome(BuildCreditsAdded(A(), "ParentAA", 100, "top-up")) == "OK");
  k = directory->FindKey(*KeyId::Parse("ParentAA"));
  BOOST_TEST(k->extras().alert_credits.opening == 600);
  const CreditsWindow kept = k->extras().alert_credits;
  Reopen();
  BOOST_TEST((directory->FindKey(*KeyId::Parse("ParentAA"))->extras().alert_credits == kept));
  // A child's thresholds watch no credits.
  BOOST_REQUIRE(Outcome(BuildAlertThresholdsSet(A(), "ChildAA1", {50})) == "OK");
  BOOST_TEST(directory->FindKey(*KeyId::Parse("ChildAA1"))->extras().alert_credits.start == 0);
}
