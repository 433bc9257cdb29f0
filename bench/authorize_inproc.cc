// authorize-inproc: decisions per second and latency percentiles of Authorizer::Authorize called
// in process over loadgen's population (100,000 keys; mixed outcomes: valid, wrong secret,
// malformed), against a bare absl::flat_hash_map lookup + SHA-256 of the key in the same run.
// Measured twice: as loadgen sets the keys up (daily quotas), then with rate limits of three
// windows (per second, minute, hour) on every key — a pool's three and a member's own three for
// each child, six windows checked per decision, limits high enough that every window counts.
//
//   bench_authorize_inproc [--quick] [--calls N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bench/bench_util.h"
#include "cli/loadgen_workload.h"
#include "engine/authorizer.h"
#include "engine/pipeline.h"
#include "engine/reservations.h"
#include "engine/secrets.h"
#include "schemas/envelope_builder.h"

using namespace keymeter;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  double per_s;
  double p50_ns, p99_ns, p999_ns;
};

template <class Fn>
Stats Measure(const std::vector<std::string>& keys, Fn&& fn) {
  std::vector<uint32_t> ns(keys.size());
  const auto start = Clock::now();
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto t0 = Clock::now();
    fn(keys[i]);
    ns[i] = uint32_t(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  }
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) { return double(ns[size_t(p * double(ns.size() - 1))]); };
  return {double(keys.size()) / total, pct(0.50), pct(0.99), pct(0.999)};
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  size_t calls = 2'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true, calls = 300'000;
    else if (a == "--calls" && i + 1 < argc) calls = size_t(std::atoll(argv[++i]));
    else return std::fprintf(stderr, "usage: bench_authorize_inproc [--quick] [--calls N]\n"), 2;
  }
  LoadgenOptions lo;
  if (quick) lo.accounts = 2'000, lo.keys = 20'000;
  Loadgen gen(lo);
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("keymeter-bench-authz-" + std::to_string(std::random_device{}())))
                              .string();
  auto pipeline = std::move(Pipeline::Open({.data_dir = dir}).value());
  if (!pipeline->PublishMany(gen.SetupEnvelopes()).ok()) return 1;
  pipeline->Start();
  while (pipeline->directory().key_count() < size_t(lo.keys)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pipeline->Stop();

  // Mixed outcomes: mostly valid Zipf-popular keys, some wrong secrets, some malformed.
  std::mt19937_64 rng(7);
  std::vector<std::string> keys;
  keys.reserve(calls);
  for (size_t i = 0; i < calls; ++i) {
    std::string key = gen.keys()[gen.PickKey()].key;
    const uint64_t r = rng() % 100;
    if (r < 5) key[20] = key[20] == 'A' ? 'B' : 'A';  // wrong secret
    else if (r < 8) key.resize(10);                    // malformed
    keys.push_back(std::move(key));
  }
  Reservations reservations;
  Authorizer authorizer(pipeline->projector().state_mutex(), pipeline->directory(),
                        pipeline->quota(), reservations);
  const TimeUs now = lo.start_us + 3600 * 1'000'000LL;
  uint64_t allowed = 0;
  Stats ours = Measure(keys, [&](const std::string& key) {
    AuthorizeResult r = authorizer.Authorize({.key = key, .ip = "198.51.100.7", .product = "whois"}, now);
    allowed += r.allowed;
  });

  absl::flat_hash_map<uint64_t, Digest> bare;
  for (const LoadgenKey& k : gen.keys()) bare[KeyId::Parse(k.key)->packed()] = Sha256(k.key);
  uint64_t found = 0;
  Stats base = Measure(keys, [&](const std::string& key) {
    const Digest d = Sha256(key);
    std::optional<KeyId> id = KeyId::Parse(key);
    if (!id) return;
    auto it = bare.find(id->packed());
    found += it != bare.end() && DigestEqual(it->second, d);
  });
  // Three rate windows on every key, applied, then the same calls again.
  std::vector<std::pair<std::string, std::string>> limits;
  for (const LoadgenKey& k : gen.keys()) {
    EnvelopeHeader h{.command_id = "rate-" + k.id, .time_us = lo.start_us,
                     .actor = fb::ActorKind::AccountAdmin, .account_id = k.account};
    limits.emplace_back(BuildRateLimitSet(h, k.id, {.per_second = 1'000'000'000,
                                                    .per_minute = 10'000'000'000,
                                                    .per_hour = 100'000'000'000}),
                        k.account);
  }
  const int64_t applied_before = bench::Applied(*pipeline);
  if (!pipeline->PublishMany(limits).ok()) return 1;
  pipeline->Start();
  bench::WaitApplied(*pipeline, applied_before + int64_t(limits.size()));
  pipeline->Stop();
  uint64_t allowed_rated = 0;
  Stats rated = Measure(keys, [&](const std::string& key) {
    AuthorizeResult r = authorizer.Authorize({.key = key, .ip = "198.51.100.7", .product = "whois"}, now);
    allowed_rated += r.allowed;
  });
  pipeline.reset();
  std::filesystem::remove_all(dir);
  std::printf(
      "{\"bench\":\"authorize-inproc\",\"quick\":%s,\"keys\":%d,\"calls\":%zu,\"allowed\":%llu,"
      "\"decisions_per_s\":%.0f,\"p50_ns\":%.0f,\"p99_ns\":%.0f,\"p999_ns\":%.0f,"
      "\"baseline\":\"absl::flat_hash_map lookup + SHA-256\",\"baseline_per_s\":%.0f,"
      "\"baseline_p99_ns\":%.0f,\"ratio\":%.3f,\"goal_p99_ns\":2000,\"baseline_found\":%llu,"
      "\"three_windows\":{\"allowed\":%llu,\"decisions_per_s\":%.0f,\"p50_ns\":%.0f,"
      "\"p99_ns\":%.0f,\"p999_ns\":%.0f,\"ratio\":%.3f,\"goal_p99_ns\":2000}}\n",
      quick ? "true" : "false", lo.keys, calls, (unsigned long long)allowed, ours.per_s, ours.p50_ns,
      ours.p99_ns, ours.p999_ns, base.per_s, base.p99_ns, ours.per_s / base.per_s,
      (unsigned long long)found, (unsigned long long)allowed_rated, rated.per_s, rated.p50_ns,
      rated.p99_ns, rated.p999_ns, rated.per_s / base.per_s);
  return 0;
}
