// DedupeWindow (projections/dedupe.h): retries inside the window are duplicates, ids outside it
// are not, the bound drops the oldest first, memory follows the table, and a window rebuilt from
// the accepted requests answers like the live one.
#define BOOST_TEST_MODULE dedupe
#include "projections/dedupe.h"

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "projections/time_buckets.h"

using namespace keymeter;

namespace {

constexpr TimeUs kWindow = kMicrosPerHour;
constexpr TimeUs kT0 = 1'750'000'000'000'000;  // 2025-06-15T15:06:40Z

RequestIdBytes Id(uint32_t n) {
  RequestIdBytes id{};
  std::memcpy(id.data(), &n, sizeof n);
  id[15] = 0xAB;  // the second half of the id matters too
  return id;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dedupe)

BOOST_AUTO_TEST_CASE(a_repeat_inside_the_window_is_a_duplicate) {
  DedupeWindow w(kWindow, 1000);
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(1), kT0));
  BOOST_TEST(w.watermark() == kT0);
  BOOST_TEST(w.window_start() == kT0 - kWindow);
  BOOST_TEST(w.SeenOrAdd("acct1", Id(1), kT0));  // same time
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(2), kT0 + kWindow / 2));
  BOOST_TEST(w.SeenOrAdd("acct1", Id(1), kT0 + kWindow / 2));
  // The window is inclusive: an entry at exactly watermark - window is still held.
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(3), kT0 + kWindow));
  BOOST_TEST(w.window_start() == kT0);
  BOOST_TEST(w.SeenOrAdd("acct1", Id(1), kT0 + kWindow));
  // A late retry (older than the watermark, inside the window) is still a duplicate.
  BOOST_TEST(w.SeenOrAdd("acct1", Id(2), kT0 + 1));
  // Only the account and the id make a duplicate: other accounts and ids pass.
  BOOST_TEST(!w.SeenOrAdd("acct2", Id(1), kT0 + kWindow));
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(4), kT0 + kWindow));
  BOOST_TEST(w.size() == 5u);  // duplicates add nothing
}

BOOST_AUTO_TEST_CASE(a_repeat_outside_the_window_is_not_a_duplicate) {
  DedupeWindow w(kWindow, 1000);
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(1), kT0));
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(2), kT0 + kWindow + 1));  // moves the watermark
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(1), kT0 + kWindow + 1));  // kT0 is now out of the window
  // ...and it is held again from its new time.
  BOOST_TEST(w.SeenOrAdd("acct1", Id(1), kT0 + kWindow + 2));
}

// dedupe.h: the window holds what is at least `watermark - window`, the watermark being the
// latest event time. A repeat that is itself the newest event, more than a window after the
// first, is not within the window, even in a partition that was quiet in between (SeenOrAdd
// checked against the previous event's watermark and dropped it, before this test).
BOOST_AUTO_TEST_CASE(a_repeat_that_moves_the_watermark_past_the_window_is_not_a_duplicate) {
  DedupeWindow w(kWindow, 1000);
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(1), kT0));
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(1), kT0 + 2 * kWindow));
  DedupeWindow day(kMicrosPerDay, 1000);
  BOOST_TEST(!day.SeenOrAdd("acct1", Id(7), kT0));
  BOOST_TEST(!day.SeenOrAdd("acct1", Id(7), kT0 + 30 * kMicrosPerDay));
}

BOOST_AUTO_TEST_CASE(a_request_older_than_the_window_is_accepted_and_not_held) {
  DedupeWindow w(kWindow, 1000);
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(1), kT0));
  const TimeUs old = kT0 - kWindow - 1;
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(2), old));
  BOOST_TEST(!w.SeenOrAdd("acct1", Id(2), old));  // it can't be checked: accepted again
  BOOST_TEST(w.size() == 1u);
  BOOST_TEST(w.watermark() == kT0);  // a late event never moves the watermark back
  w.Remember("acct1", Id(3), old);   // nor is an old one remembered
  BOOST_TEST(w.size() == 1u);
  w.set_watermark(kT0 - 5);
  BOOST_TEST(w.watermark() == kT0);
}

BOOST_AUTO_TEST_CASE(entries_out_of_the_window_are_swept_once_the_watermark_moves_an_eighth) {
  DedupeWindow w(kWindow, 1000);
  for (uint32_t i = 0; i < 100; ++i) w.SeenOrAdd("acct", Id(i), kT0 + i);
  BOOST_TEST(!w.SeenOrAdd("acct", Id(1000), kT0 + kWindow));  // a sweep: nothing is out yet
  BOOST_TEST(w.size() == 101u);
  // 50us later the entries before kT0 + 50 have left the window. Lookups ignore them at once;
  // they stay (size counts them) until the watermark has moved an eighth of a window.
  BOOST_TEST(!w.SeenOrAdd("acct", Id(1001), kT0 + kWindow + 50));
  BOOST_TEST(!w.SeenOrAdd("acct", Id(10), kT0 + kWindow + 50));  // out: accepted, held anew
  BOOST_TEST(w.SeenOrAdd("acct", Id(60), kT0 + kWindow + 50));   // still in
  BOOST_TEST(w.size() == 102u);
  // An eighth of a window later one pass sweeps all that left.
  BOOST_TEST(!w.SeenOrAdd("acct", Id(500), kT0 + kWindow + kWindow / 8 + 100));
  BOOST_TEST(w.size() == 4u);  // Id(1000), Id(1001), Id(10) and Id(500)
  BOOST_TEST(w.SeenOrAdd("acct", Id(10), kT0 + kWindow + kWindow / 8 + 100));
}

BOOST_AUTO_TEST_CASE(max_entries_evicts_the_oldest_first) {
  DedupeWindow w(kWindow, 16);
  for (uint32_t i = 0; i < 16; ++i) w.SeenOrAdd("acct", Id(i), kT0 + i);
  BOOST_TEST(w.size() == 16u);
  w.SeenOrAdd("acct", Id(16), kT0 + 16);
  // Over the bound: the oldest go at once, leaving the bound less an eighth (16 - 2).
  BOOST_TEST(w.size() == 14u);
  for (uint32_t i = 3; i <= 16; ++i) BOOST_TEST(w.SeenOrAdd("acct", Id(i), kT0 + 20));
  BOOST_TEST(w.size() == 14u);
  for (uint32_t i = 0; i < 3; ++i) BOOST_TEST(!w.SeenOrAdd("acct", Id(i), kT0 + 20));
  BOOST_TEST(w.size() <= 16u);
}

BOOST_AUTO_TEST_CASE(the_bound_drops_entries_of_one_time_together) {
  DedupeWindow w(kWindow, 8);
  for (uint32_t i = 0; i < 4; ++i) w.SeenOrAdd("acct", Id(i), kT0);
  for (uint32_t i = 4; i < 9; ++i) w.SeenOrAdd("acct", Id(i), kT0 + 1);
  // Dropping the oldest must take all four of kT0: what stays depends on times alone.
  BOOST_TEST(w.size() == 5u);
  for (uint32_t i = 4; i < 9; ++i) BOOST_TEST(w.SeenOrAdd("acct", Id(i), kT0 + 1));
  // All at one time and over the bound: the bound wins.
  DedupeWindow same(kWindow, 8);
  for (uint32_t i = 0; i < 9; ++i) same.SeenOrAdd("acct", Id(i), kT0);
  BOOST_TEST(same.size() <= 8u);
}

BOOST_AUTO_TEST_CASE(memory_bytes_follows_the_table_and_never_shrinks) {
  DedupeWindow w(kWindow, 1'000'000);
  const size_t empty = w.memory_bytes();
  size_t last = empty;
  for (uint32_t i = 0; i < 1000; ++i) {
    w.SeenOrAdd("acct", Id(i), kT0 + i);
    BOOST_REQUIRE(w.memory_bytes() >= last);
    last = w.memory_bytes();
  }
  BOOST_TEST(last > empty);
  BOOST_TEST(last % 33 == 0u);  // 33 bytes per slot
  const double slots_per_entry = double(last / 33) / double(w.size());
  BOOST_TEST(slots_per_entry >= 1.0);
  BOOST_TEST(slots_per_entry <= 2.3);
  // Sweeping every entry away keeps the table.
  w.SeenOrAdd("acct", Id(5000), kT0 + 2 * kWindow);
  BOOST_TEST(w.size() == 1u);
  BOOST_TEST(w.memory_bytes() == last);
}

BOOST_AUTO_TEST_CASE(a_window_rebuilt_from_the_accepted_requests_answers_like_the_live_one) {
  DedupeWindow live(kWindow, 10'000);
  struct Req {
    std::string account;
    uint32_t id;
    TimeUs t;
  };
  std::vector<Req> accepted;
  for (uint32_t i = 0; i < 600; ++i) {
    // 15 seconds apart over 2.5 hours; one in three a retry of an earlier id (some of ids
    // long out of the window); one in seven a minute late.
    const TimeUs late = i % 7 == 0 ? 60 * kMicrosPerSecond : 0;
    const TimeUs t = kT0 + TimeUs(i) * 15 * kMicrosPerSecond - late;
    const uint32_t id = i % 3 == 2 ? (i % 4 == 0 ? i / 2 : i - 2) : i;
    const std::string account = i % 2 ? "acctA" : "acctB";
    if (!live.SeenOrAdd(account, Id(id), t)) accepted.push_back({account, id, t});
  }
  BOOST_TEST(accepted.size() < 600u);
  // What the projector does on open: the watermark first, then every accepted request (the
  // request log holds exactly those), in log order.
  DedupeWindow rebuilt(kWindow, 10'000);
  rebuilt.set_watermark(live.watermark());
  for (const Req& r : accepted) rebuilt.Remember(r.account, Id(r.id), r.t);
  BOOST_TEST(rebuilt.watermark() == live.watermark());
  size_t duplicates = 0;
  for (uint32_t id = 0; id < 620; ++id) {
    for (const char* account : {"acctA", "acctB"}) {
      const TimeUs t = live.watermark() - TimeUs(id % 4) * kMicrosPerSecond;
      const bool seen = live.SeenOrAdd(account, Id(id), t);
      duplicates += seen;
      BOOST_TEST_CONTEXT("id " << id << " of " << account) {
        BOOST_TEST(rebuilt.SeenOrAdd(account, Id(id), t) == seen);
      }
    }
  }
  BOOST_TEST(duplicates > 100u);  // the last hour's ids
  BOOST_TEST(duplicates < 620u);  // not the older ones, nor those of the other account
}

BOOST_AUTO_TEST_CASE(stable_hash_is_stable) {
  BOOST_TEST(StableHash("acct1") == StableHash(std::string("acct") + "1"));
  BOOST_TEST(StableHash("acct1") != StableHash("acct2"));
  BOOST_TEST(StableHash("ab") != StableHash("ba"));
}

// dedupe.h: FNV-1a's loop from its own offset basis (1469598103934665603, not FNV-1a's), kept
// because Kafka's group.instance.id is derived from it. These values must never change.
BOOST_AUTO_TEST_CASE(stable_hash_values_are_fixed) {
  BOOST_TEST(StableHash("") == 1469598103934665603ull);
  BOOST_TEST(StableHash("keymeter") == 0x62c50608fa3787bbull);
  BOOST_TEST(StableHash("foobar") != 0x85944171f73967e8ull);  // not the reference FNV-1a
}

BOOST_AUTO_TEST_SUITE_END()
