// The audit history (projections/audit.h) on a real store: what PutAudit writes ReadAudit reads
// back, per account, newest first by (time, seq), within [from, to), filtered by key and paged
// by cursor; a replay writes the same keys; it survives a reopen.
#define BOOST_TEST_MODULE audit
#include "projections/audit.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/store.h"
#include "tests/common/temp_dir.h"

using namespace keymeter;

namespace {

std::string CodeName(const Status& status) { return std::string(status.name()); }

constexpr TimeUs kT0 = 1'750'000'000'000'000;

AuditEntry Entry(TimeUs t, uint64_t seq, const std::string& key_id = "Member01",
                 const std::string& op = "KeySuspended") {
  AuditEntry e;
  e.time_us = t;
  e.seq = seq;
  e.command_id = "cmd-" + std::to_string(seq);
  e.actor_kind = fb::ActorKind::AccountAdmin;
  e.op = op;
  e.key_id = key_id;
  e.outcome = "OK";
  e.detail = "status active -> suspended";
  return e;
}

struct AuditFixture {
  AuditFixture() { Open(); }
  void Open() {
    Result<std::unique_ptr<Store>> opened = Store::Open({.path = tmp.sub("db")});
    BOOST_REQUIRE_MESSAGE(opened.has_value(),
                          (opened.has_error() ? opened.error().ToString() : ""));
    store = std::move(opened.value());
  }
  void Put(const std::string& account, const std::vector<AuditEntry>& entries) {
    rocksdb::WriteBatch b;
    for (const AuditEntry& e : entries) PutAudit(&b, store->cfs()[Cf::kAudit], account, e);
    BOOST_REQUIRE(store->Write(&b).ok());
  }
  AuditPage Read(const AuditQuery& q) {
    Result<AuditPage> page = ReadAudit(store->db(), store->cfs()[Cf::kAudit], q);
    BOOST_REQUIRE_MESSAGE(page.has_value(), (page.has_error() ? page.error().ToString() : ""));
    return std::move(page.value());
  }
  // (time, seq) of every entry of every page, following the cursors.
  std::vector<std::pair<TimeUs, uint64_t>> ReadAll(AuditQuery q) {
    std::vector<std::pair<TimeUs, uint64_t>> out;
    for (int pages = 0; pages < 100; ++pages) {
      AuditPage page = Read(q);
      BOOST_REQUIRE(page.entries.size() <= q.limit);
      for (const AuditEntry& e : page.entries) out.emplace_back(e.time_us, e.seq);
      if (!page.next_cursor) return out;
      BOOST_REQUIRE(!page.entries.empty());
      BOOST_TEST(
          (*page.next_cursor == std::pair(page.entries.back().time_us, page.entries.back().seq)));
      q.before = page.next_cursor;
    }
    BOOST_FAIL("the cursors never end");
    return out;
  }
  testing::TempDir tmp;
  std::unique_ptr<Store> store;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(audit, AuditFixture)

BOOST_AUTO_TEST_CASE(what_is_written_is_read_back) {
  AuditEntry member = Entry(kT0, 0, "Child001", "KeyRotated");
  member.actor_kind = fb::ActorKind::Member;
  member.actor_key_id = "Child001";
  member.detail = "rotated; old secret revoked";
  AuditEntry refused = Entry(kT0 + 1, 1, "Nokey000", "ParentSet");
  refused.actor_kind = fb::ActorKind::Operator;
  refused.outcome = "NO-SUCH-API-KEY";
  refused.detail = std::string(3000, 'd');  // long details too
  AuditEntry created = Entry(kT0 + 2, 2, "", "AccountCreated");
  created.actor_kind = fb::ActorKind::System;
  created.command_id = "";
  Put("acctAAAA", {member, refused, created});
  AuditPage page = Read({.account_id = "acctAAAA"});
  BOOST_REQUIRE(page.entries.size() == 3u);
  BOOST_TEST((page.entries[0] == created));
  BOOST_TEST((page.entries[1] == refused));
  BOOST_TEST((page.entries[2] == member));
  BOOST_TEST(!page.next_cursor.has_value());
}

BOOST_AUTO_TEST_CASE(entries_are_newest_first_by_time_then_seq) {
  // Written out of order, in two batches; three entries share one time.
  Put("acctAAAA", {Entry(kT0 + 5, 3), Entry(kT0, 0), Entry(kT0 + 5, 4)});
  Put("acctAAAA", {Entry(kT0 + 1, 1), Entry(kT0 + 5, 2), Entry(kT0 + 1'000'000'000, 5)});
  AuditPage page = Read({.account_id = "acctAAAA"});
  std::vector<std::pair<TimeUs, uint64_t>> got;
  for (const AuditEntry& e : page.entries) got.emplace_back(e.time_us, e.seq);
  const std::vector<std::pair<TimeUs, uint64_t>> want = {
      {kT0 + 1'000'000'000, 5}, {kT0 + 5, 4}, {kT0 + 5, 3}, {kT0 + 5, 2}, {kT0 + 1, 1}, {kT0, 0}};
  BOOST_TEST((got == want));
  BOOST_TEST(page.entries[0].command_id == "cmd-5");
}

BOOST_AUTO_TEST_CASE(each_account_reads_only_its_own_entries) {
  // Ids that extend one another and sort around each other's keys.
  Put("acct", {Entry(kT0, 0), Entry(kT0 + 1, 1)});
  Put("acctA", {Entry(kT0 + 2, 0)});
  Put("acctAB", {Entry(kT0 + 3, 0), Entry(kT0 + 4, 1), Entry(kT0 + 5, 2)});
  Put("acc", {Entry(kT0 + 6, 0)});
  BOOST_TEST(Read({.account_id = "acct"}).entries.size() == 2u);
  BOOST_TEST(Read({.account_id = "acctA"}).entries.size() == 1u);
  BOOST_TEST(Read({.account_id = "acctAB"}).entries.size() == 3u);
  BOOST_TEST(Read({.account_id = "acc"}).entries.size() == 1u);
  BOOST_TEST(Read({.account_id = "acctB"}).entries.empty());
  BOOST_TEST(Read({.account_id = "acctA"}).entries.at(0).time_us == kT0 + 2);
}

BOOST_AUTO_TEST_CASE(the_range_is_from_inclusive_to_exclusive) {
  std::vector<AuditEntry> entries;
  for (uint64_t i = 0; i < 10; ++i) entries.push_back(Entry(kT0 + TimeUs(i) * 1000, i));
  Put("acctAAAA", entries);
  AuditPage page = Read({.account_id = "acctAAAA", .from_us = kT0 + 2000, .to_us = kT0 + 7000});
  BOOST_REQUIRE(page.entries.size() == 5u);
  BOOST_TEST(page.entries.front().time_us == kT0 + 6000);
  BOOST_TEST(page.entries.back().time_us == kT0 + 2000);
  BOOST_TEST(Read({.account_id = "acctAAAA", .from_us = kT0 + 2001}).entries.size() == 7u);
  BOOST_TEST(Read({.account_id = "acctAAAA", .to_us = kT0 + 1}).entries.size() == 1u);
  BOOST_TEST(Read({.account_id = "acctAAAA", .to_us = kT0}).entries.empty());
  BOOST_TEST(Read({.account_id = "acctAAAA", .from_us = kT0 + 9001}).entries.empty());
}

BOOST_AUTO_TEST_CASE(paging_visits_every_entry_once_newest_first) {
  std::vector<AuditEntry> entries;
  // 23 entries, several sharing a time, so that pages end inside a run of equal times.
  for (uint64_t i = 0; i < 23; ++i) entries.push_back(Entry(kT0 + TimeUs(i / 4), i));
  Put("acctAAAA", entries);
  for (size_t limit : {1u, 3u, 4u, 22u, 23u, 100u}) {
    BOOST_TEST_CONTEXT("limit " << limit) {
      auto all = ReadAll({.account_id = "acctAAAA", .limit = limit});
      BOOST_REQUIRE(all.size() == 23u);
      for (uint64_t i = 0; i < 23; ++i) {
        BOOST_TEST((all[i] == std::pair(kT0 + TimeUs((22 - i) / 4), 22 - i)));
      }
    }
  }
  AuditPage first = Read({.account_id = "acctAAAA", .limit = 10});
  BOOST_TEST(first.entries.size() == 10u);
  BOOST_TEST(first.next_cursor.has_value());  // 13 more follow
}

BOOST_AUTO_TEST_CASE(key_filter_range_and_cursor_combine) {
  std::vector<AuditEntry> entries;
  for (uint64_t i = 0; i < 30; ++i) {
    entries.push_back(Entry(kT0 + TimeUs(i) * 10, i, i % 3 == 0 ? "Member01" : "Member02"));
  }
  entries.push_back(Entry(kT0 + 500, 30, "", "AccountConfigSet"));  // about no key
  Put("acctAAAA", entries);
  AuditQuery q{.account_id = "acctAAAA",
               .key = KeyId::Parse("Member01"),
               .from_us = kT0 + 30,
               .to_us = kT0 + 250,
               .limit = 2};
  auto all = ReadAll(q);
  // Member01 has seq 0, 3, ..., 27 at kT0 + 10 * seq; [kT0 + 30, kT0 + 250) holds 3 .. 24.
  const std::vector<std::pair<TimeUs, uint64_t>> want = {
      {kT0 + 240, 24}, {kT0 + 210, 21}, {kT0 + 180, 18}, {kT0 + 150, 15},
      {kT0 + 120, 12}, {kT0 + 90, 9},   {kT0 + 60, 6},   {kT0 + 30, 3}};
  BOOST_TEST((all == want));
  AuditPage page = Read(q);
  for (const AuditEntry& e : page.entries) BOOST_TEST(e.key_id == "Member01");
  // A cursor and a `to` both bound the page: the lower of the two wins.
  q.limit = 100;
  q.before = std::pair(kT0 + 300, uint64_t(0));
  BOOST_TEST(Read(q).entries.at(0).seq == 24u);
  q.before = std::pair(kT0 + 120, uint64_t(12));
  BOOST_TEST(Read(q).entries.at(0).seq == 9u);
  BOOST_TEST(Read(q).entries.size() == 3u);
  // The key filter by a 24-character key names the same key id.
  q = {.account_id = "acctAAAA", .key = KeyId::Parse("Member02xxxxxxxxxxxxxxxx")};
  BOOST_TEST(Read(q).entries.size() == 20u);
}

BOOST_AUTO_TEST_CASE(a_replay_writes_the_same_keys) {
  // The seq is the account's own counter, so applying the same ops again overwrites, never
  // duplicates.
  std::vector<AuditEntry> entries = {Entry(kT0, 0), Entry(kT0, 1), Entry(kT0 + 9, 2)};
  Put("acctAAAA", entries);
  const std::string checksum = store->Checksum().value();
  Put("acctAAAA", entries);
  BOOST_TEST(Read({.account_id = "acctAAAA"}).entries.size() == 3u);
  BOOST_TEST(store->Checksum().value() == checksum);
}

BOOST_AUTO_TEST_CASE(the_history_survives_a_reopen) {
  std::vector<AuditEntry> entries;
  for (uint64_t i = 0; i < 50; ++i) entries.push_back(Entry(kT0 + TimeUs(i), i));
  Put("acctAAAA", entries);
  const AuditPage before = Read({.account_id = "acctAAAA", .limit = 1000});
  store.reset();
  Open();
  const AuditPage after = Read({.account_id = "acctAAAA", .limit = 1000});
  BOOST_TEST((after.entries == before.entries));
  BOOST_TEST(after.entries.size() == 50u);
}

BOOST_AUTO_TEST_CASE(a_corrupt_record_is_reported) {
  Put("acctAAAA", {Entry(kT0, 0)});
  std::string key = "acctAAAA";
  key.push_back('\0');
  PutBigEndian64(&key, uint64_t(kT0 + 1));
  PutBigEndian64(&key, 1);
  rocksdb::WriteBatch b;
  b.Put(store->cfs()[Cf::kAudit], key, "not a flatbuffer");
  BOOST_REQUIRE(store->Write(&b).ok());
  Result<AuditPage> page =
      ReadAudit(store->db(), store->cfs()[Cf::kAudit], {.account_id = "acctAAAA"});
  BOOST_REQUIRE(!page.has_value());
  BOOST_TEST(CodeName(page.error()) == "CORRUPT-RECORD");
  // Another account's history is not affected.
  Put("acctBBBB", {Entry(kT0, 0)});
  BOOST_TEST(Read({.account_id = "acctBBBB"}).entries.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
