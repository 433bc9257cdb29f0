// EmbeddedLog and EmbeddedLogSource: partitioning, dense offsets, recovery on reopen, readers
// that start at stored offsets, wait for appends and never see a gap under concurrent appends.
#define BOOST_TEST_MODULE embedded_log_test
#include "consumers/embedded_log.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "tests/consumers/envelope_fixture.h"
#include "tests/consumers/log_db_fixture.h"

namespace keymeter {
namespace {

using testing::AccountId;
using testing::Bytes;
using testing::ErrorText;
using testing::MakeEnvelope;
using testing::Text;

constexpr TimeUs kNow = 1'790'000'000'000'000;

std::unique_ptr<EmbeddedLog> OpenLog(const testing::LogDb& db, int32_t partitions = 4) {
  EmbeddedLogOptions options;
  options.partitions = partitions;
  options.clock = [] { return kNow; };
  auto log = EmbeddedLog::Open(db.db(), db.log(), options);
  BOOST_REQUIRE_MESSAGE(log, ErrorText(log));
  return std::move(log).value();
}

// Appends seq 0..per_account-1 of accounts 0..accounts-1, seq-major.
void Fill(EmbeddedLog& log, int accounts, int per_account) {
  for (int seq = 0; seq < per_account; ++seq) {
    for (int a = 0; a < accounts; ++a) {
      auto offset = log.Append(Bytes(MakeEnvelope(a, seq)), AccountId(a));
      BOOST_REQUIRE_MESSAGE(offset, ErrorText(offset));
    }
  }
}

BOOST_AUTO_TEST_CASE(partitions_match_librdkafka_murmur2) {
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "account-" + std::to_string(i * 7919) + std::string(size_t(i % 5), 'x');
    for (int32_t partitions : {1, 3, 4, 16}) {
      const int32_t expected = rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(),
                                                                partitions, nullptr, nullptr);
      if (KafkaPartitionFor(key, partitions) != expected) BOOST_FAIL(key << " % " << partitions);
    }
  }
}

BOOST_AUTO_TEST_CASE(append_assigns_dense_offsets_per_partition) {
  testing::LogDb db;
  auto log = OpenLog(db);
  std::map<int32_t, int64_t> next;
  for (int seq = 0; seq < 25; ++seq) {
    for (int a = 0; a < 20; ++a) {
      const int32_t p = log->PartitionFor(AccountId(a));
      BOOST_REQUIRE_EQUAL(p, KafkaPartitionFor(AccountId(a), 4));
      auto offset = log->Append(Bytes(MakeEnvelope(a, seq)), AccountId(a));
      BOOST_REQUIRE_MESSAGE(offset, ErrorText(offset));
      BOOST_REQUIRE_EQUAL(offset.value(), next[p]++);
    }
  }
  BOOST_CHECK_GT(next.size(), 1u);
  // Each partition reads back in order, byte-identical, each account's sequence in order.
  size_t total = 0;
  for (int32_t p = 0; p < 4; ++p) {
    BOOST_CHECK_EQUAL(log->EndOffset(p), next[p]);
    std::vector<LogRecord> records;
    auto n = log->Read(p, 0, 1000, &records);
    BOOST_REQUIRE_MESSAGE(n, ErrorText(n));
    BOOST_REQUIRE_EQUAL(int64_t(n.value()), next[p]);
    for (size_t i = 0; i < records.size(); ++i) {
      BOOST_CHECK_EQUAL(records[i].offset, int64_t(i));
      BOOST_CHECK_EQUAL(records[i].append_time_us, kNow);
      BOOST_CHECK_EQUAL(records[i].partition, p);
    }
    total += records.size();
  }
  BOOST_CHECK_EQUAL(total, 500u);
  // A read from the middle with a limit.
  std::vector<LogRecord> some;
  const int32_t p = log->PartitionFor(AccountId(0));
  auto n = log->Read(p, 2, 3, &some);
  BOOST_REQUIRE(n);
  BOOST_REQUIRE_EQUAL(n.value(), 3u);
  BOOST_CHECK_EQUAL(some[0].offset, 2);
  BOOST_CHECK_EQUAL(some[2].offset, 4);
}

BOOST_AUTO_TEST_CASE(append_batch_is_atomic_and_ordered) {
  testing::LogDb db;
  auto log = OpenLog(db, 2);
  std::vector<std::string> envelopes;
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) {
    envelopes.push_back(MakeEnvelope(i % 3, i));
    keys.push_back(AccountId(i % 3));
  }
  std::vector<LogEntry> entries;
  for (int i = 0; i < 10; ++i) entries.push_back({Bytes(envelopes[i]), keys[i]});
  auto positions = log->AppendBatch(entries);
  BOOST_REQUIRE_MESSAGE(positions, ErrorText(positions));
  std::map<int32_t, int64_t> next;
  for (int i = 0; i < 10; ++i) {
    const LogPosition& at = positions.value()[size_t(i)];
    BOOST_CHECK_EQUAL(at.partition, log->PartitionFor(keys[i]));
    BOOST_CHECK_EQUAL(at.offset, next[at.partition]++);
    std::vector<LogRecord> one;
    BOOST_REQUIRE(log->Read(at.partition, at.offset, 1, &one));
    BOOST_CHECK(one.at(0).envelope == envelopes[i]);
  }
}

BOOST_AUTO_TEST_CASE(reopen_recovers_offsets_and_partition_count) {
  testing::LogDb db;
  std::map<int32_t, int64_t> ends;
  {
    auto log = OpenLog(db);
    Fill(*log, 10, 7);
    for (int32_t p = 0; p < 4; ++p) ends[p] = log->EndOffset(p);
  }
  db.Reopen();
  {
    auto log = OpenLog(db);
    for (int32_t p = 0; p < 4; ++p) BOOST_CHECK_EQUAL(log->EndOffset(p), ends[p]);
    const int32_t p = log->PartitionFor(AccountId(3));
    auto offset = log->Append(Bytes(MakeEnvelope(3, 99)), AccountId(3));
    BOOST_REQUIRE(offset);
    BOOST_CHECK_EQUAL(offset.value(), ends[p]);
  }
  EmbeddedLogOptions eight;
  eight.partitions = 8;
  auto other = EmbeddedLog::Open(db.db(), db.log(), eight);
  BOOST_REQUIRE(!other);
  BOOST_CHECK_EQUAL(other.error().name(), "LOG-PARTITIONS-MISMATCH");
  eight.partitions = 0;  // a reader's choice: as the log was created
  auto as_created = EmbeddedLog::Open(db.db(), db.log(), eight);
  BOOST_REQUIRE(as_created);
  BOOST_CHECK_EQUAL(as_created.value()->partitions(), 4);
  int64_t records = 0, before = 0;
  for (int32_t p = 0; p < 4; ++p) {
    records += as_created.value()->EndOffset(p);
    before += ends[p];
  }
  BOOST_CHECK_EQUAL(records, before + 1);  // and the one appended after the reopen
  eight.partitions = -1;
  auto negative = EmbeddedLog::Open(db.db(), db.log(), eight);
  BOOST_REQUIRE(!negative);
  BOOST_CHECK_EQUAL(negative.error().name(), "INVALID-ARGUMENT");
}

BOOST_AUTO_TEST_CASE(source_starts_at_stored_offsets) {
  testing::LogDb db;
  auto log = OpenLog(db);
  Fill(*log, 20, 10);  // 200 records
  const std::map<int32_t, int64_t> stored = {{0, 5}, {2, 1}};
  EmbeddedLogSource source(*log, [&](int32_t p) -> std::optional<int64_t> {
    auto it = stored.find(p);
    if (it == stored.end()) return std::nullopt;
    return it->second;
  });
  BOOST_CHECK_EQUAL(source.name(), "embedded");
  BOOST_CHECK(!source.AtEnd());
  std::map<int32_t, std::vector<int64_t>> offsets;
  std::vector<SourceMessage> batch;
  size_t received = 0;
  for (int polls = 0; polls < 100; ++polls) {
    auto n = source.Poll(&batch, 7, std::chrono::milliseconds(0));
    BOOST_REQUIRE_MESSAGE(n, ErrorText(n));
    if (n.value() == 0) break;
    BOOST_REQUIRE_LE(n.value(), 7u);
    for (const SourceMessage& m : batch) {
      offsets[m.partition].push_back(m.offset);
      BOOST_CHECK_EQUAL(m.log_time_us, kNow);
      std::vector<LogRecord> record;
      BOOST_REQUIRE(log->Read(m.partition, m.offset, 1, &record));
      BOOST_CHECK(record.at(0).envelope == Text(m.payload));
    }
    received += n.value();
  }
  size_t expected = 0;
  for (int32_t p = 0; p < 4; ++p) {
    const int64_t first = stored.count(p) ? stored.at(p) : 0;
    std::vector<int64_t> want;
    for (int64_t o = first; o < log->EndOffset(p); ++o) want.push_back(o);
    BOOST_CHECK_MESSAGE(offsets[p] == want, "partition " << p);
    expected += want.size();
  }
  BOOST_CHECK_EQUAL(received, expected);
}

BOOST_AUTO_TEST_CASE(source_waits_for_appends_and_wakes) {
  testing::LogDb db;
  auto log = OpenLog(db);
  EmbeddedLogSource source(*log, nullptr);
  std::vector<SourceMessage> batch;
  auto start = std::chrono::steady_clock::now();
  auto none = source.Poll(&batch, 10, std::chrono::milliseconds(50));
  BOOST_REQUIRE(none);
  BOOST_CHECK_EQUAL(none.value(), 0u);
  BOOST_CHECK_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(45));

  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)log->Append(Bytes(MakeEnvelope(1, 1)), AccountId(1));
  });
  start = std::chrono::steady_clock::now();
  auto one = source.Poll(&batch, 10, std::chrono::seconds(10));
  const auto waited = std::chrono::steady_clock::now() - start;
  writer.join();
  BOOST_REQUIRE_MESSAGE(one, ErrorText(one));
  BOOST_CHECK_EQUAL(one.value(), 1u);
  BOOST_CHECK_LT(waited, std::chrono::seconds(5));
  BOOST_CHECK(Text(batch.at(0).payload) == MakeEnvelope(1, 1));
}

// Four writers and one reader at once: the reader sees every record once, per partition in
// offset order without gaps, and each account's sequence in order.
BOOST_AUTO_TEST_CASE(concurrent_appends_and_reads) {
  testing::LogDb db;
  auto log = OpenLog(db);
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 500;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int seq = 0; seq < kPerWriter; ++seq) {
        if (!log->Append(Bytes(MakeEnvelope(w, seq)), AccountId(w))) std::abort();
      }
    });
  }
  EmbeddedLogSource source(*log, nullptr);
  std::map<int32_t, int64_t> next;
  std::map<std::string, int> next_seq;
  int received = 0;
  std::vector<SourceMessage> batch;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (received < kWriters * kPerWriter && std::chrono::steady_clock::now() < deadline) {
    auto n = source.Poll(&batch, 64, std::chrono::milliseconds(100));
    BOOST_REQUIRE(n);
    for (const SourceMessage& m : batch) {
      if (m.offset != next[m.partition]++) BOOST_FAIL("gap in partition " << m.partition);
      const fb::Envelope* e = fb::GetEnvelope(m.payload.data());
      const int seq = static_cast<int>((e->time_us() - 1'767'225'600'000'000) / 1000);
      if (seq != next_seq[e->account_id()->str()]++) BOOST_FAIL("out of order");
      ++received;
    }
  }
  for (std::thread& t : writers) t.join();
  BOOST_CHECK_EQUAL(received, kWriters * kPerWriter);
}

}  // namespace
}  // namespace keymeter
