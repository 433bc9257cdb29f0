// Crash safety of the projector on a real broker: `keymeter serve` following a topic is killed
// with SIGKILL at least 50 times at random moments while a 2,000,000-event stream (lifecycle ops,
// late events, duplicates and poison mixed in) is produced; some of the kills land while it
// drains after a SIGTERM. After the last restart its projections equal, checksum for checksum, a
// clean replay of the same topic into a fresh store, and both equal the reference the test
// computed (usage rows, accepted requests, duplicates, dead letters by reason).
#define BOOST_TEST_MODULE recovery
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <random>
#include <thread>

#include "tests/common/process_fixture.h"
#include "tests/common/serve_metrics.h"
#include "tests/common/temp_dir.h"
#include "tests/engine/recovery_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

constexpr int kPartitions = 4;
constexpr int kKills = 50;
// The stream is produced in chunks paced by the kills (two per kill), so that every kill lands
// while it flows, whatever the machine's speed.
constexpr int kChunks = 2 * kKills;

}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_at_random_moments_loses_and_doubles_nothing) {
  const auto started = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  const std::string suffix = RandomHex();
  const std::string topic = "keymeter.test.recovery." + suffix;
  const std::string group = "recovery-" + suffix;
  BOOST_REQUIRE(CreateTopic(topic, kPartitions).ok());
  // 400 accounts x 5,000 steps: 2,000,000 requests, retries and poison, plus ~2,800 lifecycle ops
  // (account and key creation, re-parenting, suspension, deletion).
  Workload w = MakeWorkload(77, 400, 5000,
                            [](const std::string& a) { return KafkaPartitionFor(a, kPartitions); });
  BOOST_REQUIRE(w.log.size() >= 2'000'000u);
  const std::map<int32_t, std::string> key_of = PartitionKeys(w);
  std::map<int32_t, int64_t> end;
  for (const LogMessage& m : w.log) ++end[m.partition];
  const int64_t total = Total(end);
  BOOST_TEST_MESSAGE("workload: " << total << " messages in " << elapsed() << " s");

  TempDir tmp;
  std::atomic<int> kills{0};
  std::atomic<bool> produced{false};
  std::unique_ptr<Pipeline> replay;
  std::thread producer_thread([&] {
    auto producer = std::move(KafkaProducer::Create({.brokers = Brokers()}).value());
    const size_t per_chunk = w.log.size() / kChunks + 1;
    for (size_t i = 0; i < w.log.size(); ++i) {
      if (i % per_chunk == 0) {
        while (kills < int(i / per_chunk) / 2) std::this_thread::sleep_for(10ms);
      }
      const LogMessage& m = w.log[i];
      Status s = producer->Produce(
          topic, key_of.at(m.partition),
          std::span(reinterpret_cast<const uint8_t*>(m.payload.data()), m.payload.size()),
          m.log_time_us / 1000);
      if (!s.ok()) std::abort();
    }
    if (!producer->Flush(60s).ok() || producer->delivery_failures() != 0) std::abort();
    produced = true;
    // A clean replay of the whole topic into a fresh store, in one go, meanwhile.
    replay = ReplayTopic(tmp.sub("replay"), topic, end, 300s);
  });

  const std::string data_dir = tmp.sub("live");
  // No webhook sender: the log must stay the workload's, so that the live store can be held
  // against a replay of it (a sender records what the workload's alerts came to as ops of its
  // own; that those are crash-safe follows from their being ops, webhooks_test).
  const std::vector<std::string> args = {"serve",   "--data-dir", data_dir, "--listen",
                                         "127.0.0.1:0", "--brokers", Brokers(), "--topic",
                                         topic,     "--group",    group, "--webhook-senders", "0"};
  std::mt19937 rng(std::random_device{}());
  int early_kills = 0, progress_kills = 0, before_end_kills = 0, shutdown_kills = 0;
  int64_t applied_before = 0;
  while (kills < kKills || !produced) {
    auto server = Spawn(args, tmp.sub("err"));
    const std::string line = server->ReadLine(30s);
    BOOST_REQUIRE_MESSAGE(line.find("listening") != std::string::npos,
                          "serve did not start: " << server->Stderr());
    const uint16_t port = PortOf(line);
    const bool early = kills % 3 == 1;      // while it opens the store and joins the group
    const bool shutdown = kills % 10 == 5;  // while it drains after a SIGTERM
    if (early) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    } else {
      // Once it committed a batch (or after 6 s), at a random moment of the next ones.
      for (auto deadline = Clock::now() + 6s; Clock::now() < deadline;) {
        if (Total(MetricOffsets(port)) > applied_before) break;
        std::this_thread::sleep_for(20ms);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 700));
    }
    if (shutdown) {
      // SIGTERM starts the drain (HTTP stops, the open batch commits); SIGKILL lands in it.
      ::kill(server->pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng() % 30));
    }
    ::kill(server->pid, SIGKILL);
    const int code = server->Wait(10s);
    if (shutdown && code == -1) ++shutdown_kills;  // killed before it could exit
    if (!shutdown) BOOST_REQUIRE(code == -1);
    ++kills;
    early_kills += early ? 1 : 0;
    const int64_t applied = Total(StoredOffsets(data_dir));
    progress_kills += applied > applied_before ? 1 : 0;
    before_end_kills += applied < total ? 1 : 0;
    applied_before = applied;
    if (kills > 300) break;
  }
  BOOST_TEST_MESSAGE("killed " << kills << " times (" << early_kills << " while starting, "
                               << shutdown_kills << " while draining after SIGTERM), "
                               << before_end_kills << " before the end of the stream was applied, "
                               << progress_kills << " after progress since the previous kill; "
                               << elapsed() << " s");
  BOOST_TEST(kills >= kKills);
  BOOST_TEST(before_end_kills >= kKills * 9 / 10);
  // On a loaded machine a restart may not commit before its kill; most do.
  BOOST_TEST(progress_kills >= kKills / 5);
  BOOST_TEST(shutdown_kills >= 1);

  // The last restart runs to the end of the topic, then stops cleanly.
  {
    auto server = Spawn(args, tmp.sub("err"));
    BOOST_REQUIRE(server->ReadLine(30s).find("listening") != std::string::npos);
    const auto deadline = Clock::now() + 180s;
    while (!CaughtUp(StoredOffsets(data_dir), end) && Clock::now() < deadline) {
      std::this_thread::sleep_for(500ms);
    }
    BOOST_REQUIRE_MESSAGE(CaughtUp(StoredOffsets(data_dir), end), "the last run did not catch up");
    ::kill(server->pid, SIGTERM);
    BOOST_TEST(server->Wait(30s) == 0);
  }
  BOOST_TEST(StoredOffsets(data_dir) == end);
  std::string live;
  {
    auto store = std::move(Store::Open({.path = data_dir}).value());
    live = store->Checksum().value();
    BOOST_TEST((AllUsage(*store) == w.expected.usage));  // the reference, cell for cell
  }
  BOOST_TEST_MESSAGE("live store checked at " << elapsed() << " s");

  producer_thread.join();
  BOOST_REQUIRE_MESSAGE(replay != nullptr, "the replay did not reach the end of the topic");
  BOOST_TEST(replay->projector().stats().requests_applied == w.expected.accepted);
  BOOST_TEST(replay->projector().stats().duplicates == w.expected.duplicates);
  BOOST_TEST(replay->projector().stats().dead_letters == w.expected.dead_letters);
  BOOST_TEST(replay->store().Checksum().value() == live);
  BOOST_TEST_MESSAGE("replay compared at " << elapsed() << " s");
}
