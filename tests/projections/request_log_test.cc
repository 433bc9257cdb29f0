// The request log (projections/request_log.h) on a real store: records read back as written,
// newest first with ties by request id, paged by cursor under every filter; blocks are the same
// bytes whatever the batch boundaries; ScanRequests keeps log order; retention drops whole
// blocks; a corrupt block is reported.
#define BOOST_TEST_MODULE request_log
#include "projections/request_log.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "engine/store.h"
#include "projections/time_buckets.h"
#include "tests/common/temp_dir.h"

using namespace keymeter;

namespace {

std::string CodeName(const Status& status) { return std::string(status.name()); }

constexpr TimeUs kT0 = 1'750'000'000'000'000;  // a second start
const KeyId kKeyA = *KeyId::Parse("KeyAAAAA");
const KeyId kKeyB = *KeyId::Parse("KeyBBBBB");

RequestRecord Record(TimeUs t, uint8_t id, KeyId key = kKeyA, uint16_t status = 200) {
  RequestRecord r;
  r.time_us = t;
  r.key = key;
  r.request_id[0] = id;
  r.request_id[15] = uint8_t(255 - id);
  r.status = status;
  r.units = 1;
  r.product = "whois";
  r.client_ip = "203.0.113.9";
  r.gateway_id = "gw1";
  return r;
}

struct LogFixture {
  LogFixture() { Open(); }
  void Open() {
    Result<std::unique_ptr<Store>> opened = Store::Open({.path = tmp.sub("db")});
    BOOST_REQUIRE_MESSAGE(opened.has_value(),
                          (opened.has_error() ? opened.error().ToString() : ""));
    store = std::move(opened.value());
  }
  rocksdb::ColumnFamilyHandle* cf() const { return store->cfs()[Cf::kRequests]; }
  void Commit(const std::string& account, const std::vector<RequestRecord>& records) {
    RequestLogBatch log;
    for (const RequestRecord& r : records) log.Add(account, r);
    rocksdb::WriteBatch b;
    log.MoveInto(&b, cf());
    BOOST_TEST(log.empty());
    BOOST_REQUIRE(store->Write(&b).ok());
  }
  RequestPage Read(const RequestQuery& q) {
    Result<RequestPage> page = ReadRequests(store->db(), cf(), q);
    BOOST_REQUIRE_MESSAGE(page.has_value(), (page.has_error() ? page.error().ToString() : ""));
    return std::move(page.value());
  }
  // Every page, following the cursors.
  std::vector<RequestRecord> ReadAll(RequestQuery q) {
    std::vector<RequestRecord> out;
    for (int pages = 0; pages < 1000; ++pages) {
      RequestPage page = Read(q);
      BOOST_REQUIRE(page.records.size() <= q.limit);
      out.insert(out.end(), page.records.begin(), page.records.end());
      if (!page.next_cursor) return out;
      BOOST_REQUIRE(!page.records.empty());
      q.before = page.next_cursor;
    }
    BOOST_FAIL("the cursors never end");
    return out;
  }
  std::vector<RequestRecord> Scan(const std::string& account, TimeUs from, TimeUs to) {
    std::vector<RequestRecord> out;
    Status s = ScanRequests(store->db(), cf(), account, from, to,
                            [&](const RequestRecord& r) { out.push_back(r); });
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    return out;
  }
  // The raw blocks of the column family.
  std::map<std::string, std::string> Blocks() {
    std::map<std::string, std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(store->db()->NewIterator({}, cf()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out[it->key().ToString()] = it->value().ToString();
    }
    BOOST_REQUIRE(it->status().ok());
    return out;
  }
  testing::TempDir tmp;
  std::unique_ptr<Store> store;
};

std::vector<int> Ids(const std::vector<RequestRecord>& records) {
  std::vector<int> out;
  for (const RequestRecord& r : records) out.push_back(r.request_id[0]);
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(request_log, LogFixture)

BOOST_AUTO_TEST_CASE(what_is_written_is_read_back) {
  RequestRecord big = Record(kT0 + 999'999, 1, kKeyB, 599);
  big.units = UINT32_MAX;
  big.bytes_in = uint64_t(1) << 40;
  big.bytes_out = UINT64_MAX;
  big.latency_us = UINT32_MAX;
  big.product = std::string(300, 'p');
  big.client_ip = "2001:db8::1";
  big.gateway_id = "gateway-eu-west-1";
  for (uint8_t i = 0; i < 16; ++i) big.request_id[i] = uint8_t(0xF0 + i);
  RequestRecord bare;  // empty strings, zero counters
  bare.time_us = kT0;
  bare.key = kKeyA;
  RequestLogBatch log;
  log.Add("acct", big);
  // The view the projector appends is the same record.
  log.Add("acct", RequestRecordView{.time_us = bare.time_us,
                                    .key = bare.key,
                                    .request_id = bare.request_id,
                                    .status = bare.status});
  rocksdb::WriteBatch b;
  log.MoveInto(&b, cf());
  BOOST_REQUIRE(store->Write(&b).ok());
  RequestPage page = Read({.account_id = "acct"});
  BOOST_REQUIRE(page.records.size() == 2u);
  BOOST_TEST((page.records[0] == big));
  BOOST_TEST((page.records[1] == bare));
  BOOST_TEST(!page.next_cursor.has_value());
  // The same after a reopen.
  store.reset();
  Open();
  page = Read({.account_id = "acct"});
  BOOST_REQUIRE(page.records.size() == 2u);
  BOOST_TEST((page.records[0] == big));
}

BOOST_AUTO_TEST_CASE(records_are_newest_first_ties_by_request_id_descending) {
  // One second's block written out of time order, and a tie of three at one microsecond.
  Commit("acct", {Record(kT0 + 500, 1), Record(kT0 + 100, 2), Record(kT0 + 500, 9),
                  Record(kT0 + 900, 3), Record(kT0 + 500, 4)});
  Commit("acct", {Record(kT0 + kMicrosPerSecond, 5), Record(kT0 - 1, 6)});
  BOOST_TEST(Ids(Read({.account_id = "acct"}).records) == (std::vector<int>{5, 3, 9, 4, 1, 2, 6}));
}

BOOST_AUTO_TEST_CASE(batches_of_one_block_append_in_log_order) {
  // The same records, once in one batch and once one batch each, give the same bytes.
  std::vector<RequestRecord> records;
  for (uint8_t i = 0; i < 12; ++i) records.push_back(Record(kT0 + (i % 3) * 400'000 + (11 - i), i));
  Commit("acct", records);
  const std::map<std::string, std::string> one_batch = Blocks();
  BOOST_TEST(one_batch.size() == 1u);  // all in one second
  store.reset();
  testing::TempDir other;
  Result<std::unique_ptr<Store>> opened = Store::Open({.path = other.sub("db")});
  BOOST_REQUIRE(opened.has_value());
  store = std::move(opened.value());
  for (const RequestRecord& r : records) Commit("acct", {r});
  BOOST_TEST((Blocks() == one_batch));
  // ScanRequests gives them in log order, ReadRequests newest first.
  BOOST_TEST(Ids(Scan("acct", 0, INT64_MAX)) == Ids(records));
  BOOST_TEST(Read({.account_id = "acct", .limit = 1}).records.at(0).request_id[0] == 2);
  store.reset();  // before `other` goes
}

BOOST_AUTO_TEST_CASE(scan_visits_blocks_in_time_order_within_the_range) {
  Commit("acct", {Record(kT0 + 2 * kMicrosPerSecond + 7, 1), Record(kT0 + 5, 2), Record(kT0 + 3, 3),
                  Record(kT0 + kMicrosPerSecond, 4), Record(kT0 + 2 * kMicrosPerSecond + 1, 5)});
  Commit("acctB", {Record(kT0 + 4, 6)});
  BOOST_TEST(Ids(Scan("acct", 0, INT64_MAX)) == (std::vector<int>{2, 3, 4, 1, 5}));
  // [from, to) to the microsecond, also inside a block.
  BOOST_TEST(Ids(Scan("acct", kT0 + 4, kT0 + 2 * kMicrosPerSecond + 7)) ==
             (std::vector<int>{2, 4, 5}));
  BOOST_TEST(Ids(Scan("acct", kT0 + kMicrosPerSecond, kT0 + kMicrosPerSecond + 1)) ==
             (std::vector<int>{4}));
  BOOST_TEST(Scan("acct", kT0 + 6, kT0 + kMicrosPerSecond).empty());
  BOOST_TEST(Ids(Scan("acctB", 0, INT64_MAX)) == (std::vector<int>{6}));
  BOOST_TEST(Scan("acc", 0, INT64_MAX).empty());
}

BOOST_AUTO_TEST_CASE(the_range_is_from_inclusive_to_exclusive_to_the_microsecond) {
  std::vector<RequestRecord> records;
  for (uint8_t i = 0; i < 20; ++i) records.push_back(Record(kT0 + TimeUs(i) * 250'000, i));
  Commit("acct", records);
  // [kT0 + 0.75 s, kT0 + 2.5 s): ids 3 .. 9, starting and ending inside blocks.
  RequestPage page =
      Read({.account_id = "acct", .from_us = kT0 + 750'000, .to_us = kT0 + 2'500'000});
  BOOST_TEST(Ids(page.records) == (std::vector<int>{9, 8, 7, 6, 5, 4, 3}));
  page = Read({.account_id = "acct", .from_us = kT0 + 750'001, .to_us = kT0 + 2'500'001});
  BOOST_TEST(Ids(page.records) == (std::vector<int>{10, 9, 8, 7, 6, 5, 4}));
  BOOST_TEST(Read({.account_id = "acct", .to_us = kT0}).records.empty());
  BOOST_TEST(Read({.account_id = "acct", .from_us = kT0 + 5 * kMicrosPerSecond}).records.empty());
}

BOOST_AUTO_TEST_CASE(paging_visits_every_match_once_under_every_filter) {
  std::vector<RequestRecord> records;
  const uint16_t statuses[] = {200, 201, 302, 404, 429, 500, 503};
  // 140 records over ten seconds; ten share each time, so pages end inside ties.
  for (uint8_t i = 0; i < 140; ++i) {
    records.push_back(
        Record(kT0 + TimeUs(i / 10) * 700'000, i, i % 2 ? kKeyB : kKeyA, statuses[i % 7]));
  }
  Commit("acct", records);
  struct Filter {
    std::optional<KeyId> key;
    std::optional<uint16_t> status_class;
  };
  for (const Filter& f :
       {Filter{}, Filter{kKeyB, {}}, Filter{{}, 4}, Filter{kKeyA, 5}, Filter{kKeyB, 3}}) {
    std::vector<RequestRecord> want;
    for (const RequestRecord& r : records) {
      if ((!f.key || r.key == *f.key) && (!f.status_class || r.status / 100 == *f.status_class)) {
        want.push_back(r);
      }
    }
    std::sort(want.begin(), want.end(), [](const RequestRecord& a, const RequestRecord& b) {
      return std::tie(a.time_us, a.request_id) > std::tie(b.time_us, b.request_id);
    });
    for (size_t limit : {1u, 3u, 10u, 1000u}) {
      BOOST_TEST_CONTEXT("key " << (f.key ? f.key->str() : "-") << " class "
                                << (f.status_class ? *f.status_class : 0) << " limit " << limit) {
        const std::vector<KeyId> keys = f.key ? std::vector<KeyId>{*f.key} : std::vector<KeyId>();
        auto got =
            ReadAll({.account_id = "acct", .keys = keys, .status_class = f.status_class, .limit = limit});
        BOOST_TEST(Ids(got) == Ids(want));
      }
    }
  }
  RequestPage page = Read({.account_id = "acct", .limit = 139});
  BOOST_REQUIRE(page.next_cursor.has_value());  // one more follows
  BOOST_TEST((page.next_cursor->first == page.records.back().time_us));
  BOOST_TEST((page.next_cursor->second == page.records.back().request_id));
}

BOOST_AUTO_TEST_CASE(retention_drops_every_block_that_starts_before_the_cutoff) {
  std::vector<RequestRecord> records;
  for (uint8_t i = 0; i < 10; ++i) records.push_back(Record(kT0 + TimeUs(i) * 500'000, i));
  Commit("acct", records);
  Commit("acct0", {Record(kT0, 50)});  // an id extending this one
  Commit("acc", {Record(kT0, 51)});    // an id this one extends
  rocksdb::WriteBatch b;
  DropRequestsBefore(&b, cf(), "acct", kT0 - kMicrosPerDay);  // nothing that old
  DropRequestsBefore(&b, cf(), "acct", -1);
  BOOST_REQUIRE(store->Write(&b).ok());
  BOOST_TEST(Read({.account_id = "acct"}).records.size() == 10u);
  // A cutoff on a second start keeps that second's block.
  b.Clear();
  DropRequestsBefore(&b, cf(), "acct", kT0 + 2 * kMicrosPerSecond);
  BOOST_REQUIRE(store->Write(&b).ok());
  BOOST_TEST(Ids(Read({.account_id = "acct"}).records) == (std::vector<int>{9, 8, 7, 6, 5, 4}));
  // A cutoff inside a second drops that second's whole block, as documented.
  b.Clear();
  DropRequestsBefore(&b, cf(), "acct", kT0 + 3 * kMicrosPerSecond + 1);
  BOOST_REQUIRE(store->Write(&b).ok());
  BOOST_TEST(Ids(Read({.account_id = "acct"}).records) == (std::vector<int>{9, 8}));
  BOOST_TEST(Read({.account_id = "acct0"}).records.size() == 1u);
  BOOST_TEST(Read({.account_id = "acc"}).records.size() == 1u);
  // Dropped stays dropped across a reopen, and a later append to a dropped second starts anew.
  store.reset();
  Open();
  BOOST_TEST(Ids(Scan("acct", 0, INT64_MAX)) == (std::vector<int>{8, 9}));
  Commit("acct", {Record(kT0 + 3 * kMicrosPerSecond + 2, 60)});
  BOOST_TEST(Ids(Read({.account_id = "acct"}).records) == (std::vector<int>{9, 8, 60}));
}

// Appends and retention's range deletions interleaved in one memtable, many accounts: the
// family's memtable insert hint (engine/store.cc) must never reach a range deletion, which
// RocksDB 7.8 would insert with the point entries' hint and so break the memtable (an assertion
// in Debian's build, lost or misplaced blocks otherwise).
BOOST_AUTO_TEST_CASE(appends_and_retention_interleaved_keep_every_block) {
  constexpr int kAccounts = 40, kRounds = 30;
  auto account = [](int a) { return "acct-" + std::to_string(a); };
  for (int round = 0; round < kRounds; ++round) {
    rocksdb::WriteBatch b;
    RequestLogBatch log;
    for (int a = 0; a < kAccounts; ++a) {
      log.Add(account(a), Record(kT0 + TimeUs(round) * kMicrosPerSecond, uint8_t(round)));
    }
    log.MoveInto(&b, cf());
    // Every third account keeps its last five seconds only.
    for (int a = round % 3; a < kAccounts; a += 3) {
      DropRequestsBefore(&b, cf(), account(a), kT0 + TimeUs(round - 4) * kMicrosPerSecond);
    }
    BOOST_REQUIRE(store->Write(&b).ok());
  }
  for (int a = 0; a < kAccounts; ++a) {
    // Dropped last in round 29 - (29 - a % 3) % 3, keeping that round's five seconds.
    const int last_drop = kRounds - 1 - (kRounds - 1 - a % 3) % 3;
    std::vector<int> want;
    for (int round = kRounds - 1; round >= last_drop - 4; --round) want.push_back(round);
    BOOST_TEST(Ids(Read({.account_id = account(a)}).records) == want, account(a));
  }
}

// A key without traffic in a busy account: each page reads at most max_blocks blocks and
// ends early with a cursor, and following the cursors still finds every match.
BOOST_AUTO_TEST_CASE(a_page_reads_at_most_max_blocks) {
  std::vector<RequestRecord> busy;
  for (uint8_t i = 0; i < 7; ++i) busy.push_back(Record(kT0 + (i + 1) * kMicrosPerSecond, i, kKeyB));
  Commit("acct", {Record(kT0 + 500, 99, kKeyA)});
  Commit("acct", busy);
  RequestQuery q{.account_id = "acct", .keys = {kKeyA}, .limit = 10, .max_blocks = 3};
  RequestPage first = Read(q);
  BOOST_TEST(first.records.empty());
  BOOST_REQUIRE(first.next_cursor.has_value());
  BOOST_TEST(first.next_cursor->first == kT0 + 5 * kMicrosPerSecond);
  std::vector<RequestRecord> found;
  int pages = 1;
  for (std::optional<std::pair<TimeUs, std::array<uint8_t, 16>>> at = first.next_cursor; at;) {
    q.before = at;
    RequestPage page = Read(q);
    found.insert(found.end(), page.records.begin(), page.records.end());
    at = page.next_cursor;
    BOOST_REQUIRE(++pages < 10);
  }
  BOOST_REQUIRE_EQUAL(found.size(), 1u);
  BOOST_TEST(found[0].time_us == kT0 + 500);
  BOOST_TEST(pages == 3);  // 3 + 3 + 2 blocks
  // Unbounded enough, one page has it all.
  q.before.reset();
  q.max_blocks = 8;
  BOOST_TEST(Read(q).records.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_corrupt_block_is_reported) {
  Commit("acct", {Record(kT0, 1)});
  std::string key = "acct";
  key.push_back('\0');
  PutBigEndian64(&key, uint64_t(kT0 + kMicrosPerSecond));
  rocksdb::WriteBatch b;
  b.Put(cf(), key, std::string("\x40short", 6));  // a record size past the value's end
  BOOST_REQUIRE(store->Write(&b).ok());
  Result<RequestPage> page = ReadRequests(store->db(), cf(), {.account_id = "acct"});
  BOOST_REQUIRE(!page.has_value());
  BOOST_TEST(CodeName(page.error()) == "CORRUPT-RECORD");
  Status scan = ScanRequests(store->db(), cf(), "acct", 0, INT64_MAX, [](const RequestRecord&) {});
  BOOST_TEST(CodeName(scan) == "CORRUPT-RECORD");
  // The block before it still reads.
  BOOST_TEST(Read({.account_id = "acct", .to_us = kT0 + kMicrosPerSecond}).records.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
