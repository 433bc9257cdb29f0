// The projector on a real broker: a million request events over 4 partitions with lifecycle ops
// and poison mixed in; the state equals the reference computed by the test, and the DLQ topic
// holds exactly the poisoned messages, each with its reason, partition and offset.
#define BOOST_TEST_MODULE kafka_pipeline
#include <boost/test/unit_test.hpp>
#include <rocksdb/db.h>

#include <set>
#include <thread>

#include "consumers/kafka_consumer.h"
#include "consumers/kafka_producer.h"
#include "engine/pipeline.h"
#include "schemas/envelope.h"
#include "tests/common/temp_dir.h"
#include "tests/consumers/kafka_fixture.h"
#include "tests/engine/recovery_fixture.h"
#include "tests/engine/workload.h"

using namespace keymeter;
using namespace keymeter::testing;
using namespace std::chrono_literals;

namespace {

constexpr int kPartitions = 4;

// Produces the workload keyed by account; returns the message count per partition.
std::map<int32_t, int64_t> Produce(const std::string& topic, const Workload& w) {
  auto producer = std::move(KafkaProducer::Create({.brokers = Brokers()}).value());
  std::map<int32_t, int64_t> counts;
  const std::map<int32_t, std::string> key_of = PartitionKeys(w);
  for (const LogMessage& m : w.log) {
    const std::string& key = key_of.at(m.partition);
    BOOST_REQUIRE(producer->Produce(topic, key, std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()),
                                   m.log_time_us / 1000).ok());
    ++counts[KafkaPartitionFor(key, kPartitions)];
  }
  BOOST_REQUIRE(producer->Flush(60s).ok());
  BOOST_REQUIRE(producer->delivery_failures() == 0u);
  return counts;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_million_events_project_exactly_and_poison_lands_in_the_dlq) {
  const std::string suffix = RandomHex();
  const std::string topic = "keymeter.test.events." + suffix;
  const std::string dlq = "keymeter.test.dlq." + suffix;
  BOOST_REQUIRE(CreateTopic(topic, kPartitions).ok());
  BOOST_REQUIRE(CreateTopic(dlq, 1).ok());
  Workload w = MakeWorkload(31, 200, 5000,
                            [](const std::string& a) { return KafkaPartitionFor(a, kPartitions); });
  BOOST_TEST_MESSAGE("workload: " << w.log.size() << " messages");
  BOOST_REQUIRE(w.log.size() >= 1'000'000u);
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  std::map<int32_t, int64_t> produced = Produce(topic, w);
  BOOST_TEST_MESSAGE("produced in " << elapsed() << " s");
  started = std::chrono::steady_clock::now();

  TempDir tmp;
  auto pipeline = std::move(Pipeline::Open({.data_dir = tmp.sub("db"), .brokers = Brokers(),
                                            .topic = topic, .group = "g" + suffix,
                                            .dlq_topic = dlq}).value());
  pipeline->Start();
  const auto deadline = std::chrono::steady_clock::now() + 240s;
  auto done = [&] {
    std::map<int32_t, PartitionRecord> parts = pipeline->projector().Partitions();
    for (const auto& [p, n] : produced) {
      if (!parts.contains(p) || parts[p].next_offset < n) return false;
    }
    return true;
  };
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(200ms);
  pipeline->Stop();
  BOOST_REQUIRE_MESSAGE(done(), "the projector did not reach the end of the topic in time");
  BOOST_TEST_MESSAGE("projected in " << elapsed() << " s, "
                     << pipeline->projector().stats().batches << " batches");

  const ProjectorStats& stats = pipeline->projector().stats();
  BOOST_TEST(stats.requests_applied == w.expected.accepted);
  BOOST_TEST(stats.duplicates == w.expected.duplicates);
  BOOST_TEST(stats.dead_letters == w.expected.dead_letters);
  std::map<std::string, Counters> usage = AllUsage(pipeline->store());
  BOOST_TEST(usage.size() == w.expected.usage.size());
  BOOST_TEST((usage == w.expected.usage));

  // The DLQ topic holds exactly the poisoned messages, with reason, partition and offset.
  auto consumer = std::move(KafkaConsumer::Create({.brokers = Brokers(), .group_id = "d" + suffix,
                                                   .topics = {dlq}}).value());
  std::map<std::string, uint64_t> reasons;
  std::set<std::pair<int32_t, int64_t>> positions;
  uint64_t expected_total = 0;
  for (const auto& [r, n] : w.expected.dead_letters) expected_total += n;
  std::vector<KafkaMessage> batch;
  const auto dlq_deadline = std::chrono::steady_clock::now() + 60s;
  while (positions.size() < expected_total && std::chrono::steady_clock::now() < dlq_deadline) {
    batch.clear();
    Result<size_t> n = consumer->Poll(batch, 10'000, 500ms);
    if (!n) continue;
    for (const KafkaMessage& m : batch) {
      Result<DeadLetter> d = DecodeDeadLetter(m.payload());
      BOOST_REQUIRE(d.has_value());
      ++reasons[d.value().reason];
      BOOST_TEST(d.value().source == "kafka/" + topic);
      BOOST_TEST(d.value().offset < produced[d.value().partition]);
      positions.insert({d.value().partition, d.value().offset});
    }
  }
  BOOST_TEST(positions.size() == expected_total);
  BOOST_TEST(reasons == w.expected.dead_letters);
}

// A second consumer with the pipeline's group.instance.id fences the pipeline's consumer (for
// librdkafka a fatal error: the same happens when a broker outage outlasts the session while a
// commit is in flight). The pipeline replaces its consumer, resumes from the stored offsets,
// and ends with the reference state: nothing skipped, nothing doubled.
BOOST_AUTO_TEST_CASE(a_fenced_consumer_is_replaced_and_resumes_from_the_stored_offsets) {
  const std::string suffix = RandomHex();
  const std::string topic = "keymeter.test.events." + suffix;
  const std::string dlq = "keymeter.test.dlq." + suffix;
  BOOST_REQUIRE(CreateTopic(topic, kPartitions).ok());
  BOOST_REQUIRE(CreateTopic(dlq, 1).ok());
  Workload w = MakeWorkload(37, 40, 1000,
                            [](const std::string& a) { return KafkaPartitionFor(a, kPartitions); });
  // The first half before the intruder, the second after it left.
  Workload first = w, second = w;
  first.log.resize(w.log.size() / 2);
  second.log.erase(second.log.begin(), second.log.begin() + ptrdiff_t(w.log.size() / 2));
  std::map<int32_t, int64_t> produced = Produce(topic, first);

  TempDir tmp;
  const std::string instance = "fenced-" + suffix;
  auto pipeline = std::move(Pipeline::Open({.data_dir = tmp.sub("db"), .brokers = Brokers(),
                                            .topic = topic, .group = "g" + suffix,
                                            .dlq_topic = dlq, .instance_id = instance})
                                .value());
  pipeline->Start();
  auto reached = [&](const std::map<int32_t, int64_t>& ends, std::chrono::seconds timeout) {
    for (auto deadline = std::chrono::steady_clock::now() + timeout;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(200ms)) {
      if (CaughtUp(OffsetsOf(pipeline->projector()), ends)) return true;
    }
    return false;
  };
  BOOST_REQUIRE_MESSAGE(reached(produced, 60s), "the first half was not applied");

  std::atomic<int> assigned{0};
  {
    auto intruder = std::move(
        KafkaConsumer::Create({.brokers = Brokers(), .group_id = "g" + suffix, .topics = {topic},
                               .on_assigned = [&](std::string_view, int32_t) { ++assigned; },
                               .extra = {{"group.instance.id", instance},
                                         {"session.timeout.ms", "10000"}}})
            .value());
    std::vector<KafkaMessage> batch;
    for (auto deadline = std::chrono::steady_clock::now() + 30s;
         assigned == 0 && std::chrono::steady_clock::now() < deadline;) {
      batch.clear();
      (void)intruder->Poll(batch, 100, 200ms);
    }
    BOOST_REQUIRE_MESSAGE(assigned > 0, "the intruder never got the partitions");
    (void)intruder->Close();
  }

  // Fenced, its consumer fails for good (KAFKA-FATAL): the pipeline makes a new one.
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       pipeline->sources_made() < 2 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(100ms);
  }
  BOOST_TEST(pipeline->sources_made() == 2u);
  BOOST_TEST(pipeline->kafka_clients_replaced().consumers == 1u);
  for (const auto& [p, n] : Produce(topic, second)) produced[p] += n;
  BOOST_REQUIRE_MESSAGE(reached(produced, 90s), "the pipeline did not resume after it was fenced");
  pipeline->Stop();
  const ProjectorStats& stats = pipeline->projector().stats();
  BOOST_TEST(stats.requests_applied == w.expected.accepted);
  BOOST_TEST(stats.duplicates == w.expected.duplicates);
  BOOST_TEST((AllUsage(pipeline->store()) == w.expected.usage));
}
