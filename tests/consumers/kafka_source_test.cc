// Integration test of KafkaSource and KafkaDeadLetterSink against a real broker (scripts/kafka).
//
// Produces 2,000 envelopes of 40 accounts to a fresh topic of 4 partitions, then reads them
// through KafkaSource: from stored offsets (partition 0 from offset 10, the others from the
// start), with a tiny buffer that forces pause/resume, and across a rebalance; checks that the
// group's committed offsets follow Committed(). Finally round-trips dead letters through a
// DLQ topic.
#define BOOST_TEST_MODULE kafka_source_test
#include "consumers/kafka_source.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "consumers/dead_letter.h"
#include "consumers/embedded_log.h"
#include "consumers/kafka_producer.h"
#include "schemas/clock.h"
#include "schemas/envelope.h"
#include "tests/consumers/envelope_fixture.h"
#include "tests/consumers/kafka_fixture.h"

namespace keymeter {
namespace {

using testing::AccountId;
using testing::Bytes;
using testing::ErrorText;
using testing::MakeEnvelope;

constexpr int kAccounts = 40;
constexpr int kPerAccount = 50;
constexpr int kMessages = kAccounts * kPerAccount;
constexpr int32_t kPartitions = 4;

struct Produced {
  std::string topic;
  std::map<int32_t, int64_t> count;  // messages per partition
  TimeUs before_us = 0;
  TimeUs after_us = 0;
};

// The topic, created and filled on first use.
const Produced& Shared() {
  static const Produced produced = [] {
    Produced p;
    p.topic = "keymeter.test.source." + testing::RandomHex();
    Status created = testing::CreateTopic(p.topic, kPartitions);
    if (!created.ok()) BOOST_FAIL("create topic: " << created.ToString());
    KafkaProducerOptions options;
    options.brokers = testing::Brokers();
    auto producer = KafkaProducer::Create(options);
    if (!producer) BOOST_FAIL(ErrorText(producer));
    p.before_us = NowUs();
    for (int seq = 0; seq < kPerAccount; ++seq) {
      for (int a = 0; a < kAccounts; ++a) {
        Status s = producer.value()->Produce(p.topic, AccountId(a), Bytes(MakeEnvelope(a, seq)));
        if (!s.ok()) BOOST_FAIL("produce: " << s.ToString());
        ++p.count[KafkaPartitionFor(AccountId(a), kPartitions)];
      }
    }
    Status flushed = producer.value()->Flush(std::chrono::seconds(30));
    if (!flushed.ok() || producer.value()->delivery_failures() != 0) BOOST_FAIL("flush");
    p.after_us = NowUs();
    return p;
  }();
  return produced;
}

// What a store would keep: the next offset per partition, advanced as messages are applied.
// Check() fails on a gap, a duplicate or an altered message. Stored() is asked on the source's
// fetch thread, so `next` is behind a mutex, as the projector's partitions are.
struct Applied {
  mutable std::mutex mu;
  std::map<int32_t, int64_t> next;
  int received = 0;

  std::optional<int64_t> Stored(int32_t p) const {
    std::lock_guard lock(mu);
    auto it = next.find(p);
    return it == next.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
  void Apply(const SourceMessage& m, const Produced& produced) {
    std::lock_guard lock(mu);
    auto [it, first] = next.emplace(m.partition, 0);
    if (it->second != m.offset) {
      BOOST_FAIL("partition " << m.partition << ": offset " << m.offset << ", expected "
                              << it->second);
    }
    const fb::Envelope* e = VerifyEnvelope(m.payload);
    if (e == nullptr) BOOST_FAIL("not an envelope");
    const std::string account = e->account_id()->str();
    const int a = std::stoi(account.substr(4));
    const int seq = static_cast<int>((e->time_us() - 1'767'225'600'000'000 - a) / 1000);
    if (testing::Text(m.payload) != MakeEnvelope(a, seq)) BOOST_FAIL("altered message");
    if (KafkaPartitionFor(account, kPartitions) != m.partition) BOOST_FAIL("wrong partition");
    if (m.log_time_us < produced.before_us - 1'000'000 ||
        m.log_time_us > produced.after_us + 1'000'000) {
      BOOST_FAIL("log time " << m.log_time_us << " outside the produce window");
    }
    it->second = m.offset + 1;
    ++received;
  }
  bool Complete(const Produced& produced) const {
    for (const auto& [p, n] : produced.count) {
      if (Stored(p).value_or(0) != n) return false;
    }
    return true;
  }
};

std::unique_ptr<KafkaSource> MakeSource(const std::string& group, Applied& store,
                                        size_t max_buffered = 100'000) {
  KafkaSourceOptions options;
  options.brokers = testing::Brokers();
  options.group_id = group;
  options.topic = Shared().topic;
  options.max_buffered_messages = max_buffered;
  options.stored_offset = [&store](int32_t p) { return store.Stored(p); };
  options.extra = {{"heartbeat.interval.ms", "250"}};  // notice rebalances quickly
  auto source = KafkaSource::Create(options);
  BOOST_REQUIRE_MESSAGE(source, ErrorText(source));
  return std::move(source).value();
}

BOOST_AUTO_TEST_CASE(reads_from_stored_offsets_and_commits_to_the_group) {
  const Produced& produced = Shared();
  BOOST_REQUIRE_GT(produced.count.at(0), 10);
  const std::string group = produced.topic + ".stored";
  Applied store;
  store.next[0] = 10;  // partition 0 applied up to offset 9 already
  auto source = MakeSource(group, store);
  BOOST_CHECK_EQUAL(source->name(), "kafka/" + produced.topic);
  std::vector<SourceMessage> batch;
  std::map<int32_t, int64_t> first_offset;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!store.Complete(produced) && std::chrono::steady_clock::now() < deadline) {
    auto n = source->Poll(&batch, 500, std::chrono::milliseconds(200));
    BOOST_REQUIRE_MESSAGE(n, ErrorText(n));
    for (const SourceMessage& m : batch) {
      first_offset.emplace(m.partition, m.offset);
      store.Apply(m, produced);
    }
  }
  BOOST_REQUIRE(store.Complete(produced));
  BOOST_CHECK_EQUAL(store.received, kMessages - 10);
  BOOST_CHECK_EQUAL(first_offset.at(0), 10);
  for (int32_t p = 1; p < kPartitions; ++p) BOOST_CHECK_EQUAL(first_offset.at(p), 0);
  BOOST_CHECK_EQUAL(source->assigned().size(), size_t{kPartitions});
  // Every assigned partition's end is known by now (from the fetch responses): where the
  // produced messages end.
  const LogEndsSeen seen = source->LogEnds();
  BOOST_CHECK(seen.all_known);
  std::map<int32_t, int64_t> ends;
  for (const PartitionOffset& end : seen.ends) ends[end.partition] = end.next_offset;
  BOOST_CHECK_EQUAL(ends.size(), size_t{kPartitions});
  for (const auto& [p, end] : ends) BOOST_CHECK_EQUAL(end, produced.count.at(p));

  // Committed() makes the stored offsets the group's committed offsets.
  std::vector<PartitionOffset> next;
  for (const auto& [p, offset] : store.next) next.push_back({p, offset});
  source->Committed(next);
  for (int i = 0; i < 3; ++i) (void)source->Poll(&batch, 10, std::chrono::milliseconds(100));
  BOOST_CHECK(source->Close().ok());

  KafkaConsumerOptions query;
  query.brokers = testing::Brokers();
  query.group_id = group;
  query.topics = {produced.topic};
  auto consumer = KafkaConsumer::Create(query);
  BOOST_REQUIRE_MESSAGE(consumer, ErrorText(consumer));
  auto committed =
      consumer.value()->Committed(produced.topic, {0, 1, 2, 3}, std::chrono::seconds(10));
  BOOST_REQUIRE_MESSAGE(committed, ErrorText(committed));
  for (const TopicPartitionOffset& c : committed.value()) {
    BOOST_CHECK_MESSAGE(c.offset == produced.count.at(c.partition),
                        "partition " << c.partition << " committed " << c.offset);
  }
}

// A buffer of 800 messages for 2,000: the source stops taking from librdkafka while it is full
// (librdkafka's own queue holds the rest), stays within its bound, and every message still
// arrives exactly once, in order.
BOOST_AUTO_TEST_CASE(waits_for_room_when_the_buffer_is_full) {
  const Produced& produced = Shared();
  Applied store;
  auto source = MakeSource(produced.topic + ".paused", store, 800);
  std::vector<SourceMessage> batch;
  size_t max_buffered = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  // A slow start: one message, then a pause in which librdkafka prefetches the whole topic, so
  // that the next Poll fills the buffer.
  while (store.received == 0 && std::chrono::steady_clock::now() < deadline) {
    auto n = source->Poll(&batch, 1, std::chrono::milliseconds(200));
    BOOST_REQUIRE_MESSAGE(n, ErrorText(n));
    for (const SourceMessage& m : batch) store.Apply(m, produced);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  while (!store.Complete(produced) && std::chrono::steady_clock::now() < deadline) {
    auto n = source->Poll(&batch, 100, std::chrono::milliseconds(200));
    BOOST_REQUIRE_MESSAGE(n, ErrorText(n));
    BOOST_REQUIRE_LE(n.value(), 100u);
    max_buffered = std::max(max_buffered, source->buffered_messages());
    for (const SourceMessage& m : batch) store.Apply(m, produced);
  }
  BOOST_REQUIRE(store.Complete(produced));
  BOOST_CHECK_EQUAL(store.received, kMessages);
  BOOST_CHECK_LE(max_buffered, 800u);
  // Full at least once (the slow start lets it fill), yet 2,000 arrived through 800.
  BOOST_CHECK_GT(source->full_count(), 0u);
  BOOST_TEST_MESSAGE("full " << source->full_count() << " times");
}

// A second member joins halfway and leaves: partitions move away and back, and the first
// member, restarting each returned partition from its stored offset, neither skips nor repeats.
BOOST_AUTO_TEST_CASE(rebalance_keeps_each_store_exact) {
  const Produced& produced = Shared();
  const std::string group = produced.topic + ".rebalance";
  Applied first_store;
  auto first = MakeSource(group, first_store, 200);
  std::vector<SourceMessage> batch;
  auto poll = [&](KafkaSource& source, Applied& store) {
    auto n = source.Poll(&batch, 50, std::chrono::milliseconds(50));
    BOOST_REQUIRE_MESSAGE(n, ErrorText(n));
    for (const SourceMessage& m : batch) store.Apply(m, produced);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (first_store.received < kMessages / 4 && std::chrono::steady_clock::now() < deadline) {
    poll(*first, first_store);
  }
  BOOST_REQUIRE_GE(first_store.received, kMessages / 4);
  Applied second_store;
  auto second = MakeSource(group, second_store, 200);
  // Both poll until the group has split the partitions between them.
  while ((first->assigned().size() == size_t{kPartitions} || second->assigned().empty()) &&
         std::chrono::steady_clock::now() < deadline) {
    poll(*first, first_store);
    poll(*second, second_store);
  }
  BOOST_CHECK_LT(first->assigned().size(), size_t{kPartitions});
  BOOST_CHECK(!second->assigned().empty());
  while (second_store.received == 0 && std::chrono::steady_clock::now() < deadline) {
    poll(*first, first_store);
    poll(*second, second_store);
  }
  BOOST_CHECK_GT(second_store.received, 0);
  BOOST_CHECK(second->Close().ok());
  while (!first_store.Complete(produced) && std::chrono::steady_clock::now() < deadline) {
    poll(*first, first_store);
  }
  BOOST_CHECK(first_store.Complete(produced));
  BOOST_TEST_MESSAGE("first applied " << first_store.received << ", second "
                                      << second_store.received << "; rewinds dropped "
                                      << first->rewound_count());
}

BOOST_AUTO_TEST_CASE(dead_letters_reach_the_dlq_topic) {
  const std::string topic = "keymeter.test.dlq." + testing::RandomHex();
  BOOST_REQUIRE(testing::CreateTopic(topic, 1).ok());
  KafkaProducerOptions options;
  options.brokers = testing::Brokers();
  auto producer = KafkaProducer::Create(options);
  BOOST_REQUIRE_MESSAGE(producer, ErrorText(producer));
  KafkaProducer& dlq_producer = *producer.value();
  KafkaDeadLetterSink sink(std::move(producer).value(), topic);
  const std::string big(100'000, 'b');
  sink.Add(DeadLetter::Make("UNDECODABLE", "junk", "kafka/x", 2, 40, 1000, Bytes(big)));
  sink.Add(DeadLetter::Make("MISSING-FIELD", "key_id", "kafka/x", 1, 7, 2000, {}));
  Status flushed = sink.Flush();
  BOOST_REQUIRE_MESSAGE(flushed.ok(), flushed.ToString());
  const std::map<std::string, uint64_t> counts = {{"MISSING-FIELD", 1}, {"UNDECODABLE", 1}};
  BOOST_CHECK(sink.CountsByReason() == counts);

  // A producer that failed for good fails the flush (so the batch is not committed) and
  // replaces its librdkafka handle: the dead letter added again goes through the new one.
  dlq_producer.InjectFatalErrorForTesting();
  const DeadLetter late = DeadLetter::Make("UNKNOWN-KEY", "k1", "kafka/x", 3, 9, 3000, {});
  sink.Add(late);
  flushed = sink.Flush();
  BOOST_CHECK_EQUAL(flushed.name(), "KAFKA-FATAL");
  BOOST_CHECK_EQUAL(dlq_producer.renewals(), 1u);
  // What a reopening projector discards is never produced (else it would be the third).
  sink.Add(DeadLetter::Make("UNDECODABLE", "discarded", "kafka/x", 3, 8, 2500, {}));
  sink.Discard();
  BOOST_CHECK_EQUAL(sink.buffered_bytes(), 0u);
  sink.Add(late);
  flushed = sink.Flush();
  BOOST_REQUIRE_MESSAGE(flushed.ok(), flushed.ToString());

  KafkaConsumerOptions read;
  read.brokers = testing::Brokers();
  read.group_id = topic;
  read.topics = {topic};
  auto consumer = KafkaConsumer::Create(read);
  BOOST_REQUIRE(consumer);
  std::vector<KafkaMessage> messages;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (messages.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    auto n = consumer.value()->Poll(messages, 10, std::chrono::milliseconds(200));
    BOOST_REQUIRE_MESSAGE(n, ErrorText(n));
  }
  BOOST_REQUIRE_EQUAL(messages.size(), 3u);
  auto first = DecodeDeadLetter(messages[0].payload());
  BOOST_REQUIRE(first);
  BOOST_CHECK_EQUAL(messages[0].key(), "kafka/x/2");
  BOOST_CHECK_EQUAL(first.value().reason, "UNDECODABLE");
  BOOST_CHECK_EQUAL(first.value().offset, 40);
  BOOST_CHECK_EQUAL(first.value().payload.size(), kDeadLetterPayloadLimit);
  auto second = DecodeDeadLetter(messages[1].payload());
  BOOST_REQUIRE(second);
  BOOST_CHECK_EQUAL(second.value().detail, "key_id");
  auto third = DecodeDeadLetter(messages[2].payload());
  BOOST_REQUIRE(third);
  BOOST_CHECK_EQUAL(third.value().reason, "UNKNOWN-KEY");
}

}  // namespace
}  // namespace keymeter
