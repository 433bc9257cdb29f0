// freshness: time from producing a request event to Kafka until `authorize` reflects it in the
// quota it reports (the remaining daily requests of the key's pool), p50/p99, while a
// background producer offers ~100,000 request events/s of loadgen traffic to the same topic.
//
//   bench_freshness [--quick] [--seconds S] [--load EVENTS_PER_S] [--no-overlap]
//   (--no-overlap: the projector writes each batch before it applies the next, as before
//   overlapping commits; for before/after figures in one run)
//
// One process: keymeter's pipeline in Kafka mode (fresh 4-partition topic on KEYMETER_BROKERS,
// loadgen's population: 10,000 accounts, 100,000 keys; --quick 2,000 / 20,000) with an
// Authorizer over it, a background producer thread pacing loadgen's request events at the
// target load, and a probe: every 20 ms one request event for a probe key (its own account, a
// daily quota) is produced through a gateway-like producer (lz4, linger 5 ms), and authorize is
// asked every 100 µs until the pool's remaining count drops. Both producers are keymeter's
// KafkaProducer, as a gateway would use. The load actually achieved (produced and applied per
// second over the measurement) is reported beside the latencies, and the lag left at the end.
// No baseline: the goal is absolute (p99 ≤ 50 ms). Prints one JSON object.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "consumers/kafka_producer.h"
#include "engine/authorizer.h"
#include "engine/reservations.h"
#include "engine/secrets.h"
#include "schemas/envelope_builder.h"

using namespace keymeter;
using namespace keymeter::bench;

int main(int argc, char** argv) {
  bool quick = false;
  double seconds = 30, load = 100'000;
  bool overlap = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true, seconds = 3;
    else if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--load" && i + 1 < argc) load = std::atof(argv[++i]);
    else if (a == "--no-overlap") overlap = false;
    else return std::fprintf(stderr, "usage: bench_freshness [--quick] [--seconds S] [--load N] [--no-overlap]\n"), 2;
  }
  const std::string brokers = Brokers();
  const std::string suffix = RandomSuffix();
  const std::string topic = "keymeter.bench.fresh." + suffix;
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("keymeter-bench-fresh-" + suffix)).string();

  LoadgenOptions lo;
  if (quick) lo.accounts = 2'000, lo.keys = 20'000;
  lo.start_us = NowUs();
  Loadgen gen(lo);

  // The probe: its own account and root key with a daily quota large enough never to deny.
  const std::string account = "acctfreshprobe01";
  const std::string probe_key = "FReShPrObEkEy0123456789a";
  const std::string probe_id = probe_key.substr(0, kKeyIdLength);
  std::vector<std::pair<std::string, std::string>> setup = gen.SetupEnvelopes();
  EnvelopeHeader op{.time_us = NowUs() - kMicrosPerSecond,
                    .actor = fb::ActorKind::Operator,
                    .account_id = account};
  setup.emplace_back(BuildAccountCreated(op, account, Sha256("token"), false), account);
  op.actor = fb::ActorKind::AccountAdmin;
  setup.emplace_back(BuildKeyIssued(op, probe_id, Sha256(probe_key), "probe", "", fb::KeyStatus::Active),
                     account);
  setup.emplace_back(BuildQuotaSet(op, probe_id, 1'000'000'000'000ull, 0), account);

  PipelineOptions pipeline_options{.data_dir = dir, .brokers = brokers, .topic = topic,
                                   .group = "bench-fresh-" + suffix, .dlq_topic = topic + ".dlq"};
  pipeline_options.projector.overlap_commits = overlap;
  std::unique_ptr<Pipeline> pipeline = OpenPipeline(pipeline_options);
  PublishAll(*pipeline, setup);
  pipeline->Start();
  WaitApplied(*pipeline, int64_t(setup.size()));
  Reservations reservations;
  Authorizer authorizer(pipeline->projector().state_mutex(), pipeline->directory(),
                        pipeline->quota(), reservations);
  auto remaining = [&] {
    return authorizer
        .Authorize({.key = probe_key, .ip = "198.51.100.7", .product = "whois"}, NowUs())
        .remaining_daily_requests;
  };

  // Background load, paced in 1 ms steps; it catches up when behind, never bursts ahead.
  auto background = std::move(KafkaProducer::Create({.brokers = brokers}).value());
  std::atomic<bool> stop{false};
  std::atomic<int64_t> produced{0};
  std::jthread loader([&] {
    const auto start = Clock::now();
    int64_t n = 0;
    while (!stop) {
      const int64_t due = int64_t(load * Seconds(start));
      if (n >= due) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
        continue;
      }
      for (; n < due && !stop; ++n) {
        auto [envelope, acct] = gen.NextRequest();
        Status s = background->Produce(
            topic, acct,
            std::span(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()));
        if (!s.ok()) std::fprintf(stderr, "background produce: %s\n", s.ToString().c_str());
        produced.store(n + 1, std::memory_order_relaxed);
      }
    }
  });

  auto gateway = std::move(KafkaProducer::Create({.brokers = brokers}).value());
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the load ramps up first
  const int64_t produced_before = produced.load();
  const int64_t applied_before = Applied(*pipeline);
  uint64_t seq = 0;
  // One probe: produce an event for the probe key, wait until authorize counts it. Its latency
  // in ms, or nullopt after 30 s.
  auto probe = [&]() -> std::optional<double> {
    const uint64_t before = remaining();
    RequestFields r;
    ++seq;
    std::memcpy(r.request_id.data(), &seq, 8);
    std::memcpy(r.request_id.data() + 8, suffix.data(), std::min<size_t>(8, suffix.size()));
    r.key_id = probe_id;
    r.account_id = account;
    r.time_us = NowUs();
    r.product = "whois";
    r.client_ip = "198.51.100.7";
    r.gateway_id = "gw-probe";
    const std::string event = BuildRequestEvent(r);
    const auto t0 = Clock::now();
    if (!gateway->Produce(topic, account,
                          std::span(reinterpret_cast<const uint8_t*>(event.data()), event.size()))
             .ok()) {
      std::fprintf(stderr, "probe produce failed\n");
      std::exit(1);
    }
    while (Seconds(t0) < 30) {
      if (remaining() < before) return Seconds(t0) * 1000;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return std::nullopt;
  };
  // Not measured: the gateway producer's first message waits for its metadata and producer id
  // (about a second), which is the producer's start, not keymeter's freshness.
  (void)probe();
  std::vector<double> ms;
  int timeouts = 0;
  const auto start = Clock::now();
  while (Seconds(start) < seconds) {
    if (std::optional<double> latency = probe()) ms.push_back(*latency);
    else ++timeouts;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double measured_s = Seconds(start);
  const int64_t produced_during = produced.load() - produced_before;
  const int64_t applied_during = Applied(*pipeline) - applied_before;
  stop = true;
  loader.join();
  const int64_t lag = int64_t(setup.size()) + produced.load() + int64_t(seq) - Applied(*pipeline);
  (void)background->Flush(std::chrono::seconds(30));
  (void)gateway->Flush(std::chrono::seconds(30));
  pipeline->Stop();
  pipeline.reset();
  std::filesystem::remove_all(dir);

  const size_t samples = ms.size();
  std::printf(
      "{\"bench\":\"freshness\",\"quick\":%s,\"keys\":%d,\"probes\":%zu,\"timeouts\":%d,"
      "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"target_load_events_per_s\":%.0f,"
      "\"produced_events_per_s\":%.0f,\"applied_events_per_s\":%.0f,\"lag_at_end\":%lld,"
      "\"seconds\":%.1f,\"probe_producer\":\"KafkaProducer lz4 linger 5 ms\","
      "\"measured\":\"authorize's remaining daily requests drops\",\"overlap_commits\":%s,"
      "\"goal_p99_ms\":50}\n",
      quick ? "true" : "false", lo.keys, samples, timeouts, Percentile(ms, 0.50),
      Percentile(ms, 0.99), Percentile(ms, 1.0), load, double(produced_during) / measured_s,
      double(applied_during) / measured_s, (long long)lag, measured_s, overlap ? "true" : "false");
  return 0;
}
