// Usage counters and the request log on a real store: aggregation per batch, roll-ups, bucket
// edges, the merge operators, retention and paging.
#define BOOST_TEST_MODULE usage
#include <boost/test/unit_test.hpp>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "engine/store.h"
#include "projections/dedupe.h"
#include "projections/request_log.h"
#include "projections/usage.h"
#include "tests/common/temp_dir.h"

using namespace keymeter;

namespace {

constexpr TimeUs At(int64_t y, unsigned m, unsigned d, int h = 0, int min = 0, int s = 0) {
  return (DaysFromCivil(y, m, d) * 86400 + h * 3600 + min * 60 + s) * kMicrosPerSecond;
}

struct StoreFixture {
  StoreFixture() : store(std::move(Store::Open({.path = tmp.sub("db")}).value())) {}
  void Commit(UsageBatch& usage) {
    rocksdb::WriteBatch b;
    usage.MoveInto(&b, store->cfs()[Cf::kUsage]);
    BOOST_REQUIRE(store->Write(&b).ok());
  }
  void Commit(RequestLogBatch& log) {
    rocksdb::WriteBatch b;
    log.MoveInto(&b, store->cfs()[Cf::kRequests]);
    BOOST_REQUIRE(store->Write(&b).ok());
  }
  std::vector<UsageRow> Rows(UsageScope s, Granularity g, const std::string& entity) {
    return ReadUsage(store->db(), store->cfs()[Cf::kUsage], s, g, entity, 0, INT64_MAX).value();
  }
  testing::TempDir tmp;
  std::unique_ptr<Store> store;
};

const KeyId kParent = *KeyId::Parse("ParentAA");
const KeyId kChild = *KeyId::Parse("ChildAA1");

UsageEvent Event(KeyId key, KeyId root, TimeUs t, uint16_t status = 200, uint32_t units = 1) {
  return UsageEvent{.account_id = "acctA", .key = key, .root = root, .product = "whois",
                    .time_us = t, .units = units, .status = status, .bytes_in = 10,
                    .bytes_out = 100};
}

RequestRecord Record(KeyId key, TimeUs t, uint8_t id, uint16_t status = 200) {
  RequestRecord r;
  r.time_us = t;
  r.key = key;
  r.request_id[0] = id;
  r.status = status;
  r.units = 1;
  r.product = "whois";
  r.client_ip = "203.0.113.9";
  r.gateway_id = "gw1";
  return r;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(usage, StoreFixture)

BOOST_AUTO_TEST_CASE(counts_roll_up_to_root_and_account_across_batches) {
  UsageBatch batch;
  const TimeUs t = At(2026, 1, 31, 23, 30);
  batch.Add(Event(kParent, kParent, t));
  batch.Add(Event(kChild, kParent, t, 404, 3));
  batch.Add(Event(kChild, kParent, t + kMicrosPerHour, 503));  // next day and next month
  Commit(batch);
  UsageBatch second;
  second.Add(Event(kChild, kParent, t));
  Commit(second);

  auto child_days = Rows(UsageScope::kKey, Granularity::kDay, "ChildAA1");
  BOOST_REQUIRE(child_days.size() == 2u);
  BOOST_TEST(child_days[0].bucket_start_us == At(2026, 1, 31));
  BOOST_TEST(child_days[0].counters.requests == 2u);
  BOOST_TEST(child_days[0].counters.units == 4u);
  BOOST_TEST(child_days[0].counters.errors_4xx == 1u);
  BOOST_TEST(child_days[1].bucket_start_us == At(2026, 2, 1));
  BOOST_TEST(child_days[1].counters.errors_5xx == 1u);
  auto root_months = Rows(UsageScope::kRoot, Granularity::kMonth, "ParentAA");
  BOOST_REQUIRE(root_months.size() == 2u);
  BOOST_TEST(root_months[0].counters.requests == 3u);  // parent's own + child's two in January
  BOOST_TEST(root_months[1].counters.requests == 1u);
  auto account_hours = Rows(UsageScope::kAccount, Granularity::kHour, "acctA");
  BOOST_REQUIRE(account_hours.size() == 2u);
  BOOST_TEST(account_hours[0].counters.bytes_out == 300u);
  auto products = Rows(UsageScope::kProduct, Granularity::kDay, "ChildAA1");
  BOOST_REQUIRE(products.size() == 2u);
  BOOST_TEST(products[0].product == "whois");
  BOOST_TEST(Rows(UsageScope::kKey, Granularity::kDay, "ParentAA").at(0).counters.requests == 1u);
}

BOOST_AUTO_TEST_CASE(one_merge_per_entity_and_day_per_batch) {
  UsageBatch batch;
  for (int i = 0; i < 1000; ++i) batch.Add(Event(kChild, kParent, At(2026, 5, 5, 5) + i));
  // The key's day (hours and products), the root's and the account's.
  BOOST_TEST(batch.values() == 3u);
  Commit(batch);
  BOOST_TEST(Rows(UsageScope::kRoot, Granularity::kHour, "ParentAA").at(0).counters.requests == 1000u);
}

BOOST_AUTO_TEST_CASE(hours_days_months_and_products_read_back_from_day_values) {
  // Three batches in an order unlike time order, products out of name order.
  const TimeUs t = At(2026, 3, 31, 22, 15);
  UsageBatch late;
  late.Add(Event(kChild, kParent, At(2026, 4, 1, 0, 5)));
  Commit(late);
  UsageBatch b1;
  UsageEvent zeta = Event(kChild, kParent, t);
  zeta.product = "zeta";
  b1.Add(zeta);
  b1.Add(Event(kChild, kParent, t + kMicrosPerHour));  // 23:15, "whois"
  Commit(b1);
  UsageBatch b2;
  UsageEvent alpha = Event(kChild, kParent, At(2026, 3, 2, 1));
  alpha.product = "alpha";
  b2.Add(alpha);
  b2.Add(zeta);
  Commit(b2);

  auto hours = Rows(UsageScope::kKey, Granularity::kHour, "ChildAA1");
  BOOST_REQUIRE(hours.size() == 4u);
  BOOST_TEST(hours[0].bucket_start_us == At(2026, 3, 2, 1));
  BOOST_TEST(hours[1].bucket_start_us == At(2026, 3, 31, 22));
  BOOST_TEST(hours[1].counters.requests == 2u);
  BOOST_TEST(hours[3].bucket_start_us == At(2026, 4, 1, 0));
  auto months = Rows(UsageScope::kRoot, Granularity::kMonth, "ParentAA");
  BOOST_REQUIRE(months.size() == 2u);
  BOOST_TEST(months[0].bucket_start_us == At(2026, 3, 1));
  BOOST_TEST(months[0].counters.requests == 4u);
  BOOST_TEST(months[1].counters.requests == 1u);
  auto products = Rows(UsageScope::kProduct, Granularity::kDay, "ChildAA1");
  BOOST_REQUIRE(products.size() == 4u);  // alpha on the 2nd; whois, zeta on the 31st; whois 1st
  BOOST_TEST(products[0].product == "alpha");
  BOOST_TEST(products[1].product == "whois");
  BOOST_TEST(products[2].product == "zeta");
  BOOST_TEST(products[2].counters.requests == 2u);
  // Ranges cut inside a day or a month.
  auto evening = ReadUsage(store->db(), store->cfs()[Cf::kUsage], UsageScope::kAccount,
                           Granularity::kHour, "acctA", At(2026, 3, 31, 23), At(2026, 4, 2))
                     .value();
  BOOST_TEST(evening.size() == 2u);
  BOOST_TEST(ReadUsage(store->db(), store->cfs()[Cf::kUsage], UsageScope::kAccount,
                       Granularity::kMonth, "acctA", At(2026, 3, 2), INT64_MAX)
                 .value()
                 .size() == 1u);  // March starts before the range; April is in it
  Counters march = ReadUsageCell(store->db(), store->cfs()[Cf::kUsage], UsageScope::kAccount,
                                 Granularity::kMonth, "acctA", At(2026, 3, 15))
                       .value();
  BOOST_TEST(march.requests == 4u);
  Counters hour = ReadUsageCell(store->db(), store->cfs()[Cf::kUsage], UsageScope::kKey,
                                Granularity::kHour, "ChildAA1", At(2026, 3, 31, 22, 59))
                      .value();
  BOOST_TEST(hour.requests == 2u);
  auto cells = AllUsageCells(store->db(), store->cfs()[Cf::kUsage]).value();
  BOOST_TEST(cells.at(UsageKey(UsageScope::kRoot, Granularity::kMonth, "ParentAA", At(2026, 3, 1)))
                 .requests == 4u);
  BOOST_TEST(cells.at(UsageKey(UsageScope::kProduct, Granularity::kDay, "ChildAA1",
                               At(2026, 3, 31), "zeta"))
                 .requests == 2u);
}

BOOST_AUTO_TEST_CASE(a_corrupt_day_value_is_reported) {
  rocksdb::WriteBatch b;
  b.Put(store->cfs()[Cf::kUsage], UsageDayKey(UsageScope::kKey, "ChildAA1", At(2026, 1, 1)),
        std::string("\x05garbage", 8));
  BOOST_REQUIRE(store->Write(&b).ok());
  auto rows = ReadUsage(store->db(), store->cfs()[Cf::kUsage], UsageScope::kKey, Granularity::kDay,
                        "ChildAA1", 0, INT64_MAX);
  BOOST_REQUIRE(!rows.has_value());
  BOOST_TEST(rows.error().name() == "CORRUPT-RECORD");
}

BOOST_AUTO_TEST_CASE(request_log_is_newest_first_filtered_and_paged) {
  RequestLogBatch log;
  const TimeUs t = At(2026, 3, 1, 12);
  for (uint8_t i = 0; i < 50; ++i) {
    log.Add("acctA", Record(i % 2 ? kChild : kParent, t + i * 300'000, i, i % 5 ? 200 : 429));
  }
  log.Add("acctB", Record(kParent, t, 99));
  Commit(log);
  RequestQuery q{.account_id = "acctA", .limit = 20};
  RequestPage page = ReadRequests(store->db(), store->cfs()[Cf::kRequests], q).value();
  BOOST_REQUIRE(page.records.size() == 20u);
  BOOST_TEST(page.records[0].request_id[0] == 49);
  BOOST_TEST(page.records[0].client_ip == "203.0.113.9");
  BOOST_TEST(page.records[19].request_id[0] == 30);
  std::vector<int> seen;
  for (const auto& r : page.records) seen.push_back(r.request_id[0]);
  while (page.next_cursor) {
    q.before = page.next_cursor;
    page = ReadRequests(store->db(), store->cfs()[Cf::kRequests], q).value();
    for (const auto& r : page.records) seen.push_back(r.request_id[0]);
  }
  BOOST_REQUIRE(seen.size() == 50u);
  for (int i = 0; i < 50; ++i) BOOST_REQUIRE(seen[i] == 49 - i);
  RequestQuery by_key{.account_id = "acctA", .keys = {kChild}, .status_class = 4, .limit = 100};
  page = ReadRequests(store->db(), store->cfs()[Cf::kRequests], by_key).value();
  for (const auto& r : page.records) {
    BOOST_TEST((r.key == kChild));
    BOOST_TEST(r.status == 429);
  }
  BOOST_TEST(page.records.size() == 5u);  // odd ids divisible by 5: 5, 15, 25, 35, 45
  RequestQuery window{.account_id = "acctA", .from_us = t + 3'000'000, .to_us = t + 6'000'000};
  page = ReadRequests(store->db(), store->cfs()[Cf::kRequests], window).value();
  BOOST_TEST(page.records.size() == 10u);
}

BOOST_AUTO_TEST_CASE(retention_drops_only_what_is_due) {
  RequestLogBatch log;
  const TimeUs day = At(2026, 4, 10);
  for (uint8_t i = 0; i < 10; ++i) log.Add("acctA", Record(kParent, day + i * kMicrosPerDay / 2, i));
  log.Add("acctAB", Record(kParent, day, 77));  // an account whose id extends acctA's
  Commit(log);
  rocksdb::WriteBatch b;
  DropRequestsBefore(&b, store->cfs()[Cf::kRequests], "acctA", day + 2 * kMicrosPerDay);
  BOOST_REQUIRE(store->Write(&b).ok());
  RequestPage page =
      ReadRequests(store->db(), store->cfs()[Cf::kRequests], {.account_id = "acctA"}).value();
  BOOST_REQUIRE(page.records.size() == 6u);
  BOOST_TEST(page.records.back().time_us == day + 2 * kMicrosPerDay);
  page = ReadRequests(store->db(), store->cfs()[Cf::kRequests], {.account_id = "acctAB"}).value();
  BOOST_TEST(page.records.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(dedupe_window_drops_retries_and_forgets_old_ids) {
  DedupeWindow w(kMicrosPerHour, 1000);
  RequestIdBytes a{1}, b{2};
  const TimeUs t = At(2026, 1, 1);
  BOOST_TEST(!w.SeenOrAdd("acct1", a, t));
  BOOST_TEST(w.SeenOrAdd("acct1", a, t + 10));
  BOOST_TEST(!w.SeenOrAdd("acct2", a, t + 20));  // same id, other account
  BOOST_TEST(!w.SeenOrAdd("acct1", b, t + 2 * kMicrosPerHour));
  BOOST_TEST(!w.SeenOrAdd("acct1", a, t + 2 * kMicrosPerHour + 1));  // out of the window
  BOOST_TEST(w.size() == 2u);
}

BOOST_AUTO_TEST_CASE(dedupe_window_is_bounded) {
  DedupeWindow w(kMicrosPerHour, 100);
  for (uint32_t i = 0; i < 1000; ++i) {
    RequestIdBytes id{};
    std::memcpy(id.data(), &i, 4);
    w.SeenOrAdd("acct", id, 1'000'000 + i);
  }
  BOOST_TEST(w.size() <= 100u);
  BOOST_TEST(w.size() >= 88u);  // the oldest eighth goes at once
  auto id_of = [](uint32_t i) {
    RequestIdBytes id{};
    std::memcpy(id.data(), &i, 4);
    return id;
  };
  BOOST_TEST(w.SeenOrAdd("acct", id_of(999), 1'000'999));  // the newest are still held
  BOOST_TEST(!w.SeenOrAdd("acct", id_of(0), 1'000'000));   // the oldest were dropped
}
