// Exact quotas (DESIGN §2): reserve against a real embedded Pipeline — bursts of concurrent
// reserves, the request event replacing its reservation, expiry, day windows, a full table.
#define BOOST_TEST_MODULE reservations
#include "engine/reservations.h"

#include <boost/test/unit_test.hpp>
#include <thread>

#include "projections/time_buckets.h"
#include "tests/engine/authorizer_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

BOOST_AUTO_TEST_CASE(a_burst_of_concurrent_reserves_admits_exactly_the_quota) {
  Engine e;
  constexpr int kQuota = 25, kThreads = 8, kPerThread = 20;
  e.seed.Account("acctB");
  e.seed.Key("acctB", "ParentB1");
  e.seed.Quota("acctB", "ParentB1", kQuota, 0);
  std::vector<std::string> members;
  for (std::string id : {"MemberB1", "MemberB2", "MemberB3", "MemberB4"}) {
    members.push_back(e.seed.Key("acctB", id, "ParentB1"));
  }
  std::atomic<int> admitted{0};
  std::vector<std::jthread> threads;
  const TimeUs now = NowUs();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (e.Reserve(members[(t + i) % 4], ToHex(RandomRequestId()), now).allowed) ++admitted;
      }
    });
  }
  threads.clear();
  BOOST_TEST(admitted.load() == kQuota);
  BOOST_TEST(e.reservations.size() == size_t(kQuota));
  BOOST_TEST(e.Ask(members[0], now).reason == reason::kDailyQuotaExceeded);
}

BOOST_AUTO_TEST_CASE(the_request_event_turns_a_reservation_into_usage_once) {
  Engine e;
  e.seed.Account("acctE");
  const std::string parent = e.seed.Key("acctE", "ParentE1");
  const std::string child = e.seed.Key("acctE", "ChildE01", "ParentE1");
  e.seed.Quota("acctE", "ParentE1", 3, 0);
  e.seed.Cap("acctE", "ChildE01", 3);
  const auto first = RandomRequestId();
  AuthorizeResult r = e.Reserve(child, ToHex(first), NowUs());
  BOOST_TEST(r.allowed);
  BOOST_TEST(r.remaining_daily_requests == 2u);
  // A retried reserve of the same request id holds nothing more.
  r = e.Reserve(child, ToHex(first), NowUs());
  BOOST_TEST(r.allowed);
  BOOST_TEST(r.remaining_daily_requests == 2u);
  BOOST_TEST(e.reservations.size() == 1u);
  // Not reserved, but counted as in flight: what is left after it.
  BOOST_TEST(e.Ask(parent).remaining_daily_requests == 1u);

  e.seed.Request("acctE", "ChildE01", 1, first);
  e.seed.Barrier("acctE");
  BOOST_TEST(e.reservations.size() == 0u);
  BOOST_TEST(e.Ask(parent).remaining_daily_requests == 1u);  // counted once, as usage now
  BOOST_TEST(e.Reserve(child, ToHex(RandomRequestId()), NowUs()).allowed);
  BOOST_TEST(e.Reserve(parent, ToHex(RandomRequestId()), NowUs()).allowed);
  BOOST_TEST(e.Reserve(child, ToHex(RandomRequestId()), NowUs()).reason ==
             reason::kDailyQuotaExceeded);
}

BOOST_AUTO_TEST_CASE(unmatched_reservations_expire_and_belong_to_their_day) {
  Engine e({.ttl_us = 5 * kMicrosPerSecond, .max_reservations = 3});
  e.seed.Account("acctX");
  const std::string key = e.seed.Key("acctX", "ExpireX1");
  e.seed.Quota("acctX", "ExpireX1", 1, 0);
  // Late in a UTC day, with no usage in it or the next.
  const TimeUs late = DayStart(NowUs()) + 3 * kMicrosPerDay - kMicrosPerSecond;
  BOOST_TEST(e.Reserve(key, ToHex(RandomRequestId()), late).allowed);
  BOOST_TEST(e.Reserve(key, ToHex(RandomRequestId()), late).reason == reason::kDailyQuotaExceeded);
  // Still held, but in yesterday's window once the day turns.
  BOOST_TEST(e.Reserve(key, ToHex(RandomRequestId()), late + 2 * kMicrosPerSecond).allowed);
  BOOST_TEST(e.reservations.size() == 2u);
  // After the TTL both are gone.
  BOOST_TEST(e.Reserve(key, ToHex(RandomRequestId()), late + 10 * kMicrosPerSecond).allowed);
  BOOST_TEST(e.reservations.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_full_reservation_table_answers_503) {
  Engine e({.max_reservations = 2});
  e.seed.Account("acctF");
  const std::string key = e.seed.Key("acctF", "FullF001");
  const TimeUs now = NowUs();
  BOOST_TEST(e.Reserve(key, ToHex(RandomRequestId()), now).allowed);
  BOOST_TEST(e.Reserve(key, ToHex(RandomRequestId()), now).allowed);
  AuthorizeResult full = e.Reserve(key, ToHex(RandomRequestId()), now);
  BOOST_TEST(full.reason == reason::kReservationsFull);
  BOOST_TEST(full.http_status == 503);
  BOOST_TEST(e.Ask(key, now).allowed);  // plain authorize is unaffected
}

// One account can't fill the table for everyone: past its share it gets RESERVATIONS_FULL,
// and another account still reserves.
BOOST_AUTO_TEST_CASE(each_account_holds_at_most_its_share) {
  Engine e({.max_reservations = 10, .max_per_account = 2});
  e.seed.Account("acctG");
  e.seed.Account("acctH");
  const std::string greedy = e.seed.Key("acctG", "Greedy01");
  const std::string other = e.seed.Key("acctH", "Others01");
  const TimeUs now = NowUs();
  BOOST_TEST(e.Reserve(greedy, ToHex(RandomRequestId()), now).allowed);
  BOOST_TEST(e.Reserve(greedy, ToHex(RandomRequestId()), now).allowed);
  AuthorizeResult full = e.Reserve(greedy, ToHex(RandomRequestId()), now);
  BOOST_TEST(full.reason == reason::kReservationsFull);
  BOOST_TEST(full.http_status == 503);
  BOOST_TEST(e.Reserve(other, ToHex(RandomRequestId()), now).allowed);
  // Expired holds give the share back.
  BOOST_TEST(e.Reserve(greedy, ToHex(RandomRequestId()), now + 61 * kMicrosPerSecond).allowed);
}

BOOST_AUTO_TEST_CASE(request_ids_parse_as_hex_or_uuid) {
  BOOST_TEST(ParseRequestId("0123456789abcdefABCDEF0123456789").has_value());
  const auto uuid = ParseRequestId("01234567-89ab-cdef-0123-456789abcdef");
  BOOST_REQUIRE(uuid.has_value());
  BOOST_TEST((*uuid)[0] == 0x01);
  BOOST_TEST((*uuid)[15] == 0xef);
  BOOST_TEST(!ParseRequestId("0123456789abcdef0123456789abcdeg").has_value());
  BOOST_TEST(!ParseRequestId("01234567-89ab-cdef-0123+456789abcdef").has_value());
  BOOST_TEST(!ParseRequestId("").has_value());
}
