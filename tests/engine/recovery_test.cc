// Crash safety of the projector on a real broker: `keymeter serve` following a topic is killed
// with SIGKILL at random moments, over and over, while the stream is produced; after the last
// restart its projections equal, checksum for checksum, a clean replay of the same topic into a
// fresh store — and the reference the test computed.
#define BOOST_TEST_MODULE recovery
#include <boost/test/unit_test.hpp>
#include <rocksdb/db.h>

#include <atomic>
#include <random>
#include <thread>

#include "consumers/kafka_producer.h"
#include "engine/pipeline.h"
#include "schemas/envelope.h"
#include "tests/common/process_fixture.h"
#include "tests/common/temp_dir.h"
#include "tests/consumers/kafka_fixture.h"
#include "tests/engine/workload.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

constexpr int kPartitions = 4;

std::map<int32_t, int64_t> Offsets(const std::string& data_dir) {
  std::map<int32_t, int64_t> out;
  Result<std::unique_ptr<Store>> store = Store::Open({.path = data_dir, .read_only = true});
  if (!store) return out;
  std::unique_ptr<rocksdb::Iterator> it(
      store.value()->db()->NewIterator({}, store.value()->cfs()[Cf::kMeta]));
  for (it->Seek(kPartitionPrefix); it->Valid() && it->key().starts_with(kPartitionPrefix); it->Next()) {
    out[*PartitionOfKey(it->key().ToStringView())] =
        DecodePartition(it->value().ToStringView())->next_offset;
  }
  return out;
}

bool CaughtUp(const std::map<int32_t, int64_t>& offsets, const std::map<int32_t, int64_t>& end) {
  for (const auto& [p, n] : end) {
    auto it = offsets.find(p);
    if (it == offsets.end() || it->second < n) return false;
  }
  return true;
}

std::string ChecksumOf(const std::string& data_dir) {
  return Store::Open({.path = data_dir}).value()->Checksum().value();
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_at_random_moments_loses_and_doubles_nothing) {
  const std::string suffix = RandomHex();
  const std::string topic = "keymeter.test.recovery." + suffix;
  const std::string group = "recovery-" + suffix;
  BOOST_REQUIRE(CreateTopic(topic, kPartitions).ok());
  Workload w = MakeWorkload(77, 60, 4000,
                            [](const std::string& a) { return KafkaPartitionFor(a, kPartitions); });
  std::map<int32_t, int64_t> end;
  std::map<int32_t, std::string> key_of;
  for (const LogMessage& m : w.log) {
    const fb::Envelope* env = VerifyEnvelope(
        std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()));
    if (env != nullptr) key_of.emplace(m.partition, env->account_id()->str());
  }
  for (const LogMessage& m : w.log) ++end[m.partition];

  // The stream, produced over about 40 seconds while the consumer is being killed.
  std::atomic<bool> produced{false};
  std::thread producer_thread([&] {
    auto producer = std::move(KafkaProducer::Create({.brokers = Brokers()}).value());
    const size_t per_tick = w.log.size() / 160 + 1;
    for (size_t i = 0; i < w.log.size(); ++i) {
      const LogMessage& m = w.log[i];
      Status s = producer->Produce(
          topic, key_of.at(m.partition),
          std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()),
          m.log_time_us / 1000);
      if (!s.ok()) std::abort();
      if (i % per_tick == per_tick - 1) std::this_thread::sleep_for(250ms);
    }
    if (!producer->Flush(60s).ok() || producer->delivery_failures() != 0) std::abort();
    produced = true;
  });

  TempDir tmp;
  const std::string data_dir = tmp.sub("live");
  const std::vector<std::string> args = {"serve",   "--data-dir", data_dir, "--listen",
                                         "127.0.0.1:0", "--brokers", Brokers(), "--topic",
                                         topic,     "--group",    group};
  std::mt19937 rng(std::random_device{}());
  int kills = 0, mid_stream_kills = 0;
  int64_t applied_before = 0, total = 0;
  for (const auto& [p, n] : end) total += n;
  while (kills < 20 || !produced) {
    auto server = Spawn(args, tmp.sub("err"));
    const std::string line = server->ReadLine(30s);
    BOOST_REQUIRE_MESSAGE(line.find("listening") != std::string::npos,
                          "serve did not start: " << server->Stderr());
    // Joining the group takes a second or two; kill before, during and after it.
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 3700));
    ::kill(server->pid, SIGKILL);
    BOOST_REQUIRE(server->Wait(10s) == -1);  // killed, not exited
    ++kills;
    int64_t applied = 0;
    for (const auto& [p, n] : Offsets(data_dir)) applied += n;
    if (applied > applied_before && applied < total) ++mid_stream_kills;
    applied_before = applied;
    if (kills > 200) break;
  }
  producer_thread.join();
  BOOST_TEST_MESSAGE("killed " << kills << " times, " << mid_stream_kills
                               << " of them after progress and before the end");
  // The kills must have landed while the stream was being applied, not only around it.
  BOOST_TEST(mid_stream_kills >= 5);

  // The last restart runs to the end of the topic, then stops cleanly.
  {
    auto server = Spawn(args, tmp.sub("err"));
    BOOST_REQUIRE(server->ReadLine(30s).find("listening") != std::string::npos);
    const auto deadline = Clock::now() + 180s;
    while (!CaughtUp(Offsets(data_dir), end) && Clock::now() < deadline) {
      std::this_thread::sleep_for(500ms);
    }
    BOOST_REQUIRE_MESSAGE(CaughtUp(Offsets(data_dir), end), "the last run did not catch up");
    ::kill(server->pid, SIGTERM);
    BOOST_TEST(server->Wait(30s) == 0);
  }
  const std::string live = ChecksumOf(data_dir);

  // A clean replay of the same topic into a fresh store, in one go.
  const std::string replay_dir = tmp.sub("replay");
  {
    auto pipeline = std::move(Pipeline::Open({.data_dir = replay_dir, .brokers = Brokers(),
                                              .topic = topic, .group = group + "-replay"})
                                  .value());
    pipeline->Start();
    const auto deadline = Clock::now() + 180s;
    auto done = [&] {
      std::map<int32_t, int64_t> offsets;
      for (const auto& [p, r] : pipeline->projector().Partitions()) offsets[p] = r.next_offset;
      return CaughtUp(offsets, end);
    };
    while (!done() && Clock::now() < deadline) std::this_thread::sleep_for(200ms);
    pipeline->Stop();
    BOOST_REQUIRE(done());
    BOOST_TEST(pipeline->projector().stats().requests_applied == w.expected.accepted);
    BOOST_TEST(pipeline->projector().stats().duplicates == w.expected.duplicates);
  }
  BOOST_TEST(ChecksumOf(replay_dir) == live);
}
