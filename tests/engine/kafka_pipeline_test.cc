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
  std::map<int32_t, std::string> key_of;  // any account of the partition, to key junk with
  for (const LogMessage& m : w.log) {
    const fb::Envelope* env = VerifyEnvelope(
        std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()));
    if (env != nullptr) key_of.emplace(m.partition, env->account_id()->str());
  }
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

std::map<std::string, Counters> AllUsage(Store& store) {
  return AllUsageCells(store.db(), store.cfs()[Cf::kUsage]).value();
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
