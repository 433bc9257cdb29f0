// exactness: requests admitted beyond a quota under a 10x burst, async authorize against
// authorize with `reserve` (DESIGN §2, "Exact quotas").
//
//   bench_exactness [--quick] [--quota N] [--threads T] [--kafka]
//
// Population: one account, two root keys with a daily quota of N requests, each with three
// children drawing on its pool. Burst: T gateway threads make 10·N authorize calls in all,
// spread over a pool's four keys, as fast as they can; every admitted call publishes its request
// event at once (denied calls never reach the upstream and publish nothing), while the projector
// applies them. Pool A is asked without `reserve` (admission sees only applied events), pool B with
// `reserve` and the event's request id (admission counts live reservations). Once every event
// is applied, overshoot = admitted − N, and a last authorize must answer DAILY_QUOTA_EXCEEDED.
// Pools C (without reserve) and D (with) have no quota but a rate limit of N per hour (docs/api.md,
// Limits): the same burst, overshoot = admitted − N × the hour windows the burst touched (one,
// unless it crossed an hour), and a last authorize must answer RATE_LIMITED.
//
// The log is the embedded one by default (events appended at once, Pipeline::Publish, the path of
// POST /v1/events); --kafka uses a fresh topic on KEYMETER_BROKERS, the gateways producing
// asynchronously through a KafkaProducer (lz4, linger 5 ms), so events take longer to land.
// No baseline: the goal is absolute (0 with reserve). Prints one JSON object.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "consumers/kafka_producer.h"
#include "engine/authorizer.h"
#include "engine/reservations.h"
#include "engine/secrets.h"
#include "projections/time_buckets.h"
#include "schemas/envelope_builder.h"

using namespace keymeter;
using namespace keymeter::bench;

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

std::string RandomKey(std::mt19937_64& rng) {
  std::string s(kKeyLength, 'A');
  for (char& c : s) c = kAlphabet[rng() % kAlphabet.size()];
  return s;
}

struct Pool {
  std::vector<std::string> keys;  // root first, then its children
};

struct Outcome {
  uint64_t calls = 0;
  uint64_t admitted = 0;
  uint64_t windows = 1;  // rate windows (hours) the burst touched
  double burst_s = 0;
  double settle_s = 0;  // from the end of the burst until every event was applied
  std::string final_reason;
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, kafka = false;
  uint64_t quota = 1000;
  int threads = 8;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--kafka") kafka = true;
    else if (a == "--quota" && i + 1 < argc) quota = uint64_t(std::atoll(argv[++i]));
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else return std::fprintf(stderr, "usage: bench_exactness [--quick] [--quota N] [--threads T] [--kafka]\n"), 2;
  }
  if (!quick && quota == 1000) quota = 10'000;

  const std::string suffix = RandomSuffix();
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("keymeter-bench-exact-" + suffix)).string();
  PipelineOptions po{.data_dir = dir};
  if (kafka) {
    po.brokers = Brokers();
    po.topic = "keymeter.bench.exact." + suffix;
    po.group = "bench-exact-" + suffix;
    po.dlq_topic = po.topic + ".dlq";
  }

  // One account, two pools of four keys; quotas on the roots.
  std::mt19937_64 rng(11);
  const std::string account = "acctexactness" + suffix.substr(0, 3);
  const TimeUs setup_time = NowUs() - kMicrosPerSecond;
  std::vector<std::pair<std::string, std::string>> setup;
  EnvelopeHeader op{.time_us = setup_time, .actor = fb::ActorKind::Operator, .account_id = account};
  setup.emplace_back(BuildAccountCreated(op, account, Sha256("token"), false), account);
  op.actor = fb::ActorKind::AccountAdmin;
  Pool pools[4];
  for (int p = 0; p < 4; ++p) {
    Pool& pool = pools[p];
    for (int k = 0; k < 4; ++k) {
      pool.keys.push_back(RandomKey(rng));
      const std::string id = pool.keys.back().substr(0, kKeyIdLength);
      const std::string parent = k == 0 ? "" : pool.keys[0].substr(0, kKeyIdLength);
      setup.emplace_back(BuildKeyIssued(op, id, Sha256(pool.keys.back()), "member", parent,
                                        fb::KeyStatus::Active),
                         account);
    }
    const std::string root = pool.keys[0].substr(0, kKeyIdLength);
    if (p < 2) {
      setup.emplace_back(BuildQuotaSet(op, root, quota, 0), account);
    } else {
      setup.emplace_back(BuildRateLimitSet(op, root, {.per_hour = quota}), account);
    }
  }

  std::unique_ptr<Pipeline> pipeline = OpenPipeline(po);
  Reservations reservations;
  pipeline->projector().set_request_listener(
      [&reservations](KeyId root, KeyId key, const RequestIdBytes& id) {
        reservations.OnRequestApplied(root, key, id);
      });
  PublishAll(*pipeline, setup);
  pipeline->Start();
  WaitApplied(*pipeline, int64_t(setup.size()));
  Authorizer authorizer(pipeline->projector().state_mutex(), pipeline->directory(),
                        pipeline->quota(), reservations);
  std::atomic<int64_t> published{int64_t(setup.size())};
  // Kafka: the gateways produce asynchronously (lz4, linger 5 ms), as a gateway would.
  std::unique_ptr<KafkaProducer> gateway;
  if (kafka) gateway = std::move(KafkaProducer::Create({.brokers = po.brokers}).value());

  auto burst = [&](const Pool& pool, bool reserve) {
    Outcome out;
    out.calls = 10 * quota;
    std::atomic<uint64_t> next{0}, admitted{0};
    std::atomic<bool> failed{false};
    const auto start = Clock::now();
    const TimeUs first_hour = HourStart(NowUs());
    std::vector<std::jthread> gateways;
    for (int t = 0; t < threads; ++t) {
      gateways.emplace_back([&, t] {
        std::mt19937_64 ids(std::random_device{}() + uint64_t(t));
        AuthorizeResult result;
        for (uint64_t i = next++; i < out.calls; i = next++) {
          const std::string& key = pool.keys[i % pool.keys.size()];
          RequestIdBytes id;
          for (size_t b = 0; b < id.size(); b += 8) {
            const uint64_t r = ids();
            std::memcpy(id.data() + b, &r, 8);
          }
          const std::string id_text = ToHex(id);
          const TimeUs now = NowUs();
          authorizer.Authorize({.key = key, .ip = "198.51.100.7", .product = "whois",
                                .reserve = reserve, .request_id = id_text},
                               now, &result);
          if (!result.allowed) continue;
          ++admitted;
          RequestFields r;
          r.request_id = id;
          r.key_id = key.substr(0, kKeyIdLength);
          r.account_id = account;
          r.time_us = now;
          r.product = "whois";
          r.client_ip = "198.51.100.7";
          r.gateway_id = "gw-bench";
          const std::string event = BuildRequestEvent(r);
          const std::span bytes(reinterpret_cast<const uint8_t*>(event.data()), event.size());
          Status s = gateway ? gateway->Produce(po.topic, account, bytes)
                             : pipeline->Publish(bytes, account);
          if (!s.ok()) failed = true;
          ++published;
        }
      });
    }
    gateways.clear();  // joins
    out.burst_s = Seconds(start);
    out.windows = uint64_t((HourStart(NowUs()) - first_hour) / kMicrosPerHour) + 1;
    if (gateway && !gateway->Flush(std::chrono::seconds(30)).ok()) failed = true;
    if (failed) std::fprintf(stderr, "exactness: a publish failed\n"), std::exit(1);
    const auto settle = Clock::now();
    WaitApplied(*pipeline, published.load());
    out.settle_s = Seconds(settle);
    out.admitted = admitted.load();
    out.final_reason = std::string(HttpName(
        authorizer
            .Authorize({.key = pool.keys[0], .ip = "198.51.100.7", .product = "whois"}, NowUs())
            .reason));
    return out;
  };
  const Outcome async = burst(pools[0], false);
  const Outcome reserved = burst(pools[1], true);
  const Outcome rate_async = burst(pools[2], false);
  const Outcome rate_reserved = burst(pools[3], true);
  pipeline->Stop();
  pipeline.reset();
  std::filesystem::remove_all(dir);

  auto overshoot = [&](const Outcome& o) {
    return int64_t(o.admitted) - int64_t(quota * o.windows);
  };
  auto json = [&](const Outcome& o) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "{\"calls\":%llu,\"admitted\":%llu,\"overshoot\":%lld,\"burst_s\":%.3f,"
                  "\"calls_per_s\":%.0f,\"settle_s\":%.3f,\"final_reason\":\"%s\"}",
                  (unsigned long long)o.calls, (unsigned long long)o.admitted,
                  (long long)overshoot(o), o.burst_s, double(o.calls) / o.burst_s, o.settle_s,
                  o.final_reason.c_str());
    return std::string(buf);
  };
  std::printf(
      "{\"bench\":\"exactness\",\"quick\":%s,\"log\":\"%s\",\"quota\":%llu,\"burst\":\"10x\","
      "\"gateway_threads\":%d,\"async\":%s,\"reserve\":%s,\"async_overshoot\":%lld,"
      "\"reserve_overshoot\":%lld,\"rate_limit\":{\"per_hour\":%llu,\"hours_touched\":%llu,"
      "\"async\":%s,\"reserve\":%s,\"async_overshoot\":%lld,\"reserve_overshoot\":%lld},"
      "\"goal\":\"0 with reserve\"}\n",
      quick ? "true" : "false", kafka ? "kafka" : "embedded", (unsigned long long)quota, threads,
      json(async).c_str(), json(reserved).c_str(), (long long)overshoot(async),
      (long long)overshoot(reserved), (unsigned long long)quota,
      (unsigned long long)rate_reserved.windows, json(rate_async).c_str(),
      json(rate_reserved).c_str(), (long long)overshoot(rate_async),
      (long long)overshoot(rate_reserved));
  return 0;
}
