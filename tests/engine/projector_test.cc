// The projector against an independent reference (tests/engine/workload.h), and the properties
// exactly-once rests on: batch boundaries, partition interleaving and restarts don't change the
// state.
#define BOOST_TEST_MODULE projector
#include <boost/test/unit_test.hpp>
#include <rocksdb/db.h>

#include <set>

#include "engine/partition_checksum.h"
#include "engine/partition_drop.h"
#include "engine/partition_state.h"
#include "tests/common/temp_dir.h"
#include "tests/engine/projector_engine.h"
#include "tests/engine/workload.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

std::map<std::string, Counters> AllUsage(Store& store) {
  return AllUsageCells(store.db(), store.cfs()[Cf::kUsage]).value();
}

}  // namespace

BOOST_AUTO_TEST_CASE(state_equals_the_reference) {
  TempDir tmp;
  Workload w = MakeWorkload(11, 9, 1500);
  Engine e(tmp.sub("db"), {.max_batch_events = 500});
  e.Run(w.log, 1);
  const ProjectorStats& stats = e.projector->stats();
  BOOST_TEST(stats.messages == w.log.size());
  BOOST_TEST(stats.requests_applied == w.expected.accepted);
  BOOST_TEST(stats.duplicates == w.expected.duplicates);
  BOOST_TEST(stats.dead_letters == w.expected.dead_letters);
  BOOST_TEST(e.dlq.CountsByReason() == w.expected.dead_letters);
  for (const auto& [reason, n] : w.expected.dead_letters) {
    BOOST_TEST_MESSAGE(reason << " expected " << n << " got " << stats.dead_letters.at(reason));
  }
  for (const auto& [reason, n] : stats.dead_letters) BOOST_TEST_MESSAGE(reason << " got " << n);
  BOOST_TEST(w.expected.dead_letters.size() >= 5u);  // the workload plants every kind
  std::map<std::string, Counters> usage = AllUsage(*e.store);
  BOOST_TEST(usage.size() == w.expected.usage.size());
  for (const auto& [key, counters] : w.expected.usage) {
    auto it = usage.find(key);
    BOOST_REQUIRE_MESSAGE(it != usage.end(), "missing usage cell");
    BOOST_REQUIRE_MESSAGE((it->second == counters),
                          "cell " << key.substr(0, 2) << " got " << it->second.requests << "/"
                                  << it->second.units << " want " << counters.requests << "/"
                                  << counters.units);
  }
  for (const auto& [account, n] : w.expected.requests_logged) {
    uint64_t logged = 0;
    RequestQuery q{.account_id = account, .limit = 1000};
    for (;;) {
      RequestPage page = ReadRequests(e.store->db(), e.store->cfs()[Cf::kRequests], q).value();
      logged += page.records.size();
      if (!page.next_cursor) break;
      q.before = page.next_cursor;
    }
    BOOST_TEST(logged == n);
  }
  // Every dead letter is in the embedded DLQ column family with its reason.
  std::map<std::string, uint64_t> stored;
  std::unique_ptr<rocksdb::Iterator> it(e.store->db()->NewIterator({}, e.store->cfs()[Cf::kDlq]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Result<DeadLetter> d = DecodeDeadLetter(std::span(
        reinterpret_cast<const uint8_t*>(it->value().data()), it->value().size()));
    BOOST_REQUIRE(d.has_value());
    ++stored[d.value().reason];
  }
  BOOST_TEST(stored == w.expected.dead_letters);
  // The workload's thresholds raise alerts, and its day's end and raised quota resolve them
  // (the batch-boundary and recovery suites compare them through the checksums); a keyed
  // top-up was retried.
  BOOST_TEST(stats.alerts_crossed > 0u);
  BOOST_TEST(stats.alerts_resolved > 0u);
  BOOST_TEST(stats.commands_retried == 2u * 9);
}

BOOST_AUTO_TEST_CASE(batch_boundaries_and_interleaving_do_not_change_the_state) {
  Workload w = MakeWorkload(5, 6, 800);
  TempDir a, b, c;
  Engine small(a.sub("db"), {.max_batch_events = 7});
  small.Run(w.log, 1);
  Engine large(b.sub("db"), {.max_batch_events = 100'000});
  large.Run(w.log, 99);
  Engine medium(c.sub("db"), {.max_batch_events = 333});
  medium.Run(w.log, 7);
  BOOST_TEST(small.Checksum() == large.Checksum());
  BOOST_TEST(small.Checksum() == medium.Checksum());
}

BOOST_AUTO_TEST_CASE(a_restart_resumes_from_the_stored_offsets) {
  Workload w = MakeWorkload(21, 5, 1000);
  TempDir once, restarted;
  Engine straight(once.sub("db"), {.max_batch_events = 250});
  straight.Run(w.log, 3);
  for (int stop_after : {1, 3, 4}) {
    auto e = std::make_unique<Engine>(restarted.sub("db"), ProjectorOptions{.max_batch_events = 250});
    e->Run(w.log, unsigned(stop_after), stop_after);
    e.reset();  // closes the store; the next one reopens it
  }
  Engine last(restarted.sub("db"), {.max_batch_events = 250});
  last.Run(w.log, 5);
  BOOST_TEST(last.Checksum() == straight.Checksum());
  std::map<int32_t, int64_t> sizes;
  for (const LogMessage& m : w.log) ++sizes[m.partition];
  for (const auto& [p, record] : last.projector->Partitions()) {
    BOOST_TEST(record.next_offset == sizes[p]);
  }
  BOOST_TEST((AllUsage(*last.store) == AllUsage(*straight.store)));
}

BOOST_AUTO_TEST_CASE(quota_windows_follow_event_time_and_survive_a_reopen) {
  Workload w = MakeWorkload(3, 2, 300);
  TempDir tmp;
  TimeUs now = w.end_time;
  std::map<KeyId, uint64_t> day_requests;
  {
    Engine e(tmp.sub("db"));
    e.Run(w.log, 1);
    e.directory->ForEachKey([&](const KeyState& k) {
      if (!k.is_child()) day_requests[k.id] = e.quota.Pool(k.id).DayRequests(now);
    });
  }
  uint64_t total = 0;
  for (const auto& [id, n] : day_requests) total += n;
  BOOST_TEST(total > 0u);
  Engine reopened(tmp.sub("db"));
  reopened.now = now;
  BOOST_REQUIRE(reopened.projector->Open("vector", now).ok());
  for (const auto& [id, n] : day_requests) BOOST_TEST(reopened.quota.Pool(id).DayRequests(now) == n);
  BOOST_TEST(reopened.projector->Open("other-source", now).name() == "SOURCE-MISMATCH");
}

// overlap_commits: a batch is written on its own thread while the next one is applied. The
// state must not depend on it, and a write still in flight when the projector goes away lands
// whole, with its offsets, so a restart resumes right after it.
BOOST_AUTO_TEST_CASE(overlapped_commits_give_the_same_state_and_land_in_order) {
  Workload w = MakeWorkload(8, 6, 800);
  TempDir a, b, c;
  Engine sequential(a.sub("db"), {.max_batch_events = 333});
  sequential.Run(w.log, 1);
  Engine overlapped(b.sub("db"), {.max_batch_events = 7, .overlap_commits = true});
  overlapped.Run(w.log, 2);
  BOOST_TEST(overlapped.Checksum() == sequential.Checksum());
  BOOST_TEST(overlapped.projector->stats().requests_applied == w.expected.accepted);

  auto committed = [](const Projector& p) {
    int64_t n = 0;
    for (const auto& [partition, record] : p.Partitions()) n += record.next_offset;
    return n;
  };
  int64_t previous = 0;
  for (int stop_after : {1, 2, 5}) {
    auto e = std::make_unique<Engine>(
        c.sub("db"), ProjectorOptions{.max_batch_events = 250, .overlap_commits = true});
    BOOST_TEST(committed(*e->projector) == previous);  // what the last run left, whole
    e->Run(w.log, unsigned(stop_after), stop_after);
    if (stop_after != 2) {
      // The last batch ended with more to read, so it may still be in flight; once drained,
      // Partitions() (what is committed) holds every batch run.
      BOOST_REQUIRE(e->projector->Drain(nullptr).ok());
      BOOST_TEST(committed(*e->projector) == previous + int64_t(stop_after) * 250);
      BOOST_TEST(e->projector->stats().last_commit_latency.count() > 0);
    }
    previous += int64_t(stop_after) * 250;
    e.reset();  // with stop_after 2, the write in flight lands before the store closes
  }
  Engine last(c.sub("db"), {.max_batch_events = 250, .overlap_commits = true});
  last.Run(w.log, 5);
  BOOST_TEST(last.Checksum() == sequential.Checksum());
}

// Billing close: once a partition's watermark is an hour (month_close_lateness_us) past a month's
// end, a late event of that month is dead-lettered TOO-LATE and the month's figures stay; before
// that, or with more lateness allowed, it counts.
BOOST_AUTO_TEST_CASE(a_closed_month_never_changes) {
  const TimeUs april = DaysFromCivil(2026, 4, 1) * kMicrosPerDay;
  const TimeUs minute = 60 * kMicrosPerSecond;
  auto op = [&](const std::string& bytes) { return LogMessage{0, bytes, april - 60 * minute}; };
  EnvelopeHeader h{.time_us = april - 60 * minute, .actor = fb::ActorKind::Operator,
                   .account_id = "acctLate"};
  std::vector<LogMessage> log = {
      op(BuildAccountCreated(h, "late", Sha256("t"), false)),
      op(BuildKeyIssued(h, "LateKey1", Sha256("k"), "k", "", fb::KeyStatus::Active))};
  auto event = [&](TimeUs t, TimeUs log_time) {
    RequestFields r{.key_id = "LateKey1", .account_id = "acctLate", .time_us = t};
    r.request_id[0] = uint8_t(log.size());
    log.push_back({0, BuildRequestEvent(r), log_time});
  };
  event(april - 10 * minute, april - 10 * minute);  // March
  event(april + 30 * minute, april + 30 * minute);  // April; March open for 30 minutes more
  event(april - 20 * minute, april + 31 * minute);  // late, March still open: counts
  event(april + 61 * minute, april + 61 * minute);  // March closes
  event(april - 30 * minute, april + 62 * minute);  // late: TOO-LATE
  event(april + 62 * minute, april + 62 * minute);  // April goes on
  const auto march_requests = [](Store& store) {
    Result<Counters> c = ReadUsageCell(store.db(), store.cfs()[Cf::kUsage], UsageScope::kAccount,
                                       Granularity::kMonth, "acctLate",
                                       DaysFromCivil(2026, 3, 1) * kMicrosPerDay);
    return c ? int64_t(c.value().requests) : -1;
  };
  TempDir tmp;
  Engine e(tmp.sub("db"));
  e.Run(log, 1);
  BOOST_TEST(e.projector->stats().dead_letters == (std::map<std::string, uint64_t>{{"TOO-LATE", 1}}));
  BOOST_TEST(march_requests(*e.store) == 2);
  Engine lenient(tmp.sub("lenient"), {.month_close_lateness_us = 2 * kMicrosPerHour});
  lenient.Run(log, 1);
  BOOST_TEST(lenient.projector->stats().dead_letters.empty());
  BOOST_TEST(march_requests(*lenient.store) == 3);
}

// A cluster's members each project the partitions they own; their partitions' digests, together,
// are those of one store that projected every partition (engine/partition_checksum.h).
BOOST_AUTO_TEST_CASE(partition_digests_do_not_depend_on_which_partitions_a_store_holds) {
  Workload w = MakeWorkload(5, 8, 300);
  TempDir tmp;
  Engine full(tmp.sub("full"));
  full.Run(w.log, 1);
  const std::map<int32_t, std::string> all = PartitionChecksums(*full.store).value();
  BOOST_TEST(all.size() == 4u);
  BOOST_TEST(!all.contains(-1));  // every row has its account's partition
  std::map<int32_t, std::string> members;
  for (const std::set<int32_t>& owned : {std::set<int32_t>{0, 1}, std::set<int32_t>{2, 3}}) {
    std::vector<LogMessage> part;
    for (const LogMessage& m : w.log) {
      if (owned.contains(m.partition)) part.push_back(m);
    }
    Engine member(tmp.sub("member" + std::to_string(*owned.begin())));
    member.Run(part, 2);
    const std::map<int32_t, std::string> own = PartitionChecksums(*member.store).value();
    for (const auto& [p, digest] : own) {
      BOOST_TEST(owned.contains(p));
      members[p] = digest;
    }
  }
  BOOST_TEST(members == all);
  BOOST_TEST(all.at(0) != all.at(1));
}

namespace {

// The accounts the store puts on `partition` ("acct/" rows).
std::vector<std::string> AccountsOn(Store& store, int32_t partition) {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(store.db()->NewIterator({}, store.cfs()[Cf::kMeta]));
  for (it->Seek(std::string(kAccountPrefix)); it->Valid() && it->key().starts_with(kAccountPrefix);
       it->Next()) {
    if (int32_t(DecodeBigEndian32(it->value().ToStringView())) == partition) {
      out.push_back(it->key().ToString().substr(kAccountPrefix.size()));
    }
  }
  return out;
}

}  // namespace

// A cluster member that reads a partition no more gives it back (engine/partition_drop.h): its
// rows leave the store, every other partition's stay byte for byte, memory holds none of its
// accounts or keys, and reading the partition again from the beginning restores it.
BOOST_AUTO_TEST_CASE(a_dropped_partition_leaves_nothing_behind_and_comes_back_from_the_log) {
  Workload w = MakeWorkload(5, 8, 300);
  TempDir tmp;
  Engine e(tmp.sub("db"));
  e.Run(w.log, 1);
  const std::map<int32_t, std::string> before = PartitionChecksums(*e.store).value();
  const std::vector<std::string> accounts = AccountsOn(*e.store, 1);
  std::vector<KeyId> keys;
  for (const std::string& a : accounts) {
    for (const KeyState* k : e.directory->KeysOf(a)) keys.push_back(k->id);
  }
  BOOST_REQUIRE(!keys.empty());
  BOOST_REQUIRE(e.projector->StoredOffset(1).has_value());

  Status dropped = e.projector->DropPartition(nullptr, 1);
  BOOST_REQUIRE_MESSAGE(dropped.ok(), dropped.ToString());
  std::map<int32_t, std::string> expected = before;
  expected.erase(1);
  BOOST_TEST(PartitionChecksums(*e.store).value() == expected);
  BOOST_TEST(AccountsOn(*e.store, 1).empty());
  BOOST_TEST(!e.projector->StoredOffset(1).has_value());
  BOOST_TEST(!e.projector->Partitions().contains(1));
  for (const std::string& a : accounts) BOOST_TEST(e.directory->FindAccount(a) == nullptr);
  for (KeyId k : keys) {
    BOOST_TEST(e.directory->FindKey(k) == nullptr);
    BOOST_TEST(e.quota.Pool(k).latest_day() == 0);
    BOOST_TEST(e.quota.Member(k).latest_day() == 0);
  }
  {  // memory holds what a store that never had the partition loads
    auto reread = std::move(Store::Open({.path = tmp.sub("db"), .read_only = true}).value());
    KeyDirectory fresh(reread->cfs());
    BOOST_REQUIRE(fresh.Load(reread->db()).ok());
    BOOST_TEST(fresh.key_count() == e.directory->key_count());
    BOOST_TEST(fresh.account_count() == e.directory->account_count());
  }
  BOOST_TEST(e.directory->FindKey(e.directory->KeysOf(AccountsOn(*e.store, 0).at(0)).at(0)->id) !=
             nullptr);

  e.Run(w.log, 2);  // partitions 0, 2, 3 are at their end; 1 is read from its beginning
  BOOST_TEST(PartitionChecksums(*e.store).value() == before);
}

// A drop cut short by a crash (its mark written, rows left) is finished when the store opens.
BOOST_AUTO_TEST_CASE(a_drop_cut_short_is_finished_when_the_store_opens) {
  Workload w = MakeWorkload(6, 8, 200);
  TempDir tmp;
  std::map<int32_t, std::string> before;
  {
    Engine e(tmp.sub("db"));
    e.Run(w.log, 1);
    before = PartitionChecksums(*e.store).value();
    rocksdb::WriteBatch mark;  // the first write of DropPartitionRows(store, 2), then the crash
    mark.Put(e.store->cfs()[Cf::kMeta], std::string(kDropPrefix) + EncodeBigEndian32(2), "")
        .PermitUncheckedError();
    mark.Delete(e.store->cfs()[Cf::kMeta], PartitionKey(2)).PermitUncheckedError();
    BOOST_REQUIRE(e.store->Write(&mark).ok());
  }
  Engine reopened(tmp.sub("db"));
  std::map<int32_t, std::string> expected = before;
  expected.erase(2);
  BOOST_TEST(PartitionChecksums(*reopened.store).value() == expected);
  BOOST_TEST(AccountsOn(*reopened.store, 2).empty());
  std::string mark;
  BOOST_TEST(reopened.store->db()
                 ->Get({}, reopened.store->cfs()[Cf::kMeta],
                       std::string(kDropPrefix) + EncodeBigEndian32(2), &mark)
                 .IsNotFound());
}

// A source that has not seen a partition's end yet (Kafka before its first fetch response for
// it): the projector says so, and the pipeline does not count itself caught up meanwhile.
BOOST_AUTO_TEST_CASE(an_unknown_log_end_is_reported) {
  Workload w = MakeWorkload(4, 2, 100);
  TempDir tmp;
  Engine e(tmp.sub("db"));
  struct Blind : VectorSource {
    using VectorSource::VectorSource;
    LogEndsSeen LogEnds() const override { return {{}, known}; }
    bool known = false;
  };
  Blind source(w.log, [&](int32_t p) { return e.projector->StoredOffset(p); });
  BOOST_REQUIRE(e.projector->RunBatch(source).has_value());
  BOOST_TEST(!e.projector->LogEndsKnown());
  source.known = true;
  BOOST_REQUIRE(e.projector->RunBatch(source).has_value());
  BOOST_TEST(e.projector->LogEndsKnown());
}

// An error the source gives once a batch holds messages is not lost: the batch is committed, and
// RunBatch() then returns the error (a fatal one makes the pipeline replace its consumer).
BOOST_AUTO_TEST_CASE(a_poll_error_after_messages_is_returned_once_the_batch_is_committed) {
  Workload w = MakeWorkload(4, 2, 100);
  TempDir tmp;
  Engine e(tmp.sub("db"));
  struct Failing : VectorSource {
    using VectorSource::VectorSource;
    Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                        std::chrono::milliseconds timeout) override {
      if (++polls == 2) return Status(Code::kKafkaFatal, "fenced");
      return VectorSource::Poll(out, std::min<size_t>(max, 10), timeout);
    }
    int polls = 0;
  };
  Failing source(w.log, [&](int32_t p) { return e.projector->StoredOffset(p); });
  Result<size_t> first = e.projector->RunBatch(source);
  BOOST_REQUIRE(!first.has_value());
  BOOST_TEST(first.error().code() == Code::kKafkaFatal);
  BOOST_TEST(e.projector->stats().messages == 10u);  // committed
  int64_t stored = 0;
  for (int32_t p = 0; p < 4; ++p) stored += e.projector->StoredOffset(p).value_or(0);
  BOOST_TEST(stored == 10);
  BOOST_TEST(e.projector->RunBatch(source).has_value());
}

// A reopen forgets the dead letters a failed batch added: applied again, they come again.
BOOST_AUTO_TEST_CASE(a_reopen_discards_dead_letters_not_yet_written) {
  TempDir tmp;
  Engine e(tmp.sub("db"));
  e.dlq.Add(DeadLetter::Make("UNDECODABLE", "junk", "vector", 0, 7, 1000, {}));
  BOOST_TEST(e.dlq.buffered() == 1u);
  BOOST_REQUIRE(e.projector->Open("vector", 0).ok());
  BOOST_TEST(e.dlq.buffered() == 0u);
}
