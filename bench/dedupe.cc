// dedupe: the dedupe window's cost per accepted request below its entry bound and at it (where
// every bound/8 new entries a sweep drops the oldest eighth), against a bare
// absl::flat_hash_map insert of the same ids into a table as full, measured in the same run.
//
//   bench_dedupe [--quick] [--rounds R]
//
// One partition's window (ProjectorOptions' defaults: one hour, 2,000,000 entries; --quick
// 200,000), random request ids, event time advancing 100 us per request so that the whole run
// stays inside the window and only the bound evicts. Per round: the bound filled, then as many
// again timed ("at the bound"); "below the bound" times the second half of the fill. The best
// round of each figure is reported (this machine is shared). Prints one JSON object.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bench/bench_util.h"
#include "projections/dedupe.h"

using namespace keymeter;

namespace {

std::vector<DedupeWindow::Id> RandomIds(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<DedupeWindow::Id> ids(n);
  for (auto& [account, id] : ids) {
    const uint64_t a = rng(), b = rng();
    std::memcpy(id.data(), &a, 8);
    std::memcpy(id.data() + 8, &b, 8);
    account = rng();
  }
  return ids;
}

struct IdHash {
  size_t operator()(const DedupeWindow::Id& k) const {
    uint64_t a;
    std::memcpy(&a, k.second.data(), 8);
    return size_t(k.first ^ (a * 0x9E3779B97F4A7C15ull));
  }
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int rounds = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") quick = true, rounds = 2;
    else if (arg == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: bench_dedupe [--quick] [--rounds R]\n");
      return 2;
    }
  }
  const size_t bound = quick ? 200'000 : 2'000'000;
  const std::vector<DedupeWindow::Id> ids = RandomIds(2 * bound, 7);
  double below_ns = 1e18, at_ns = 1e18, bare_ns = 1e18;
  size_t held = 0;
  for (int round = 0; round < rounds; ++round) {
    DedupeWindow window(kMicrosPerHour, bound);
    TimeUs t = 1'800'000'000'000'000;
    size_t i = 0;
    for (; i < bound / 2; ++i, t += 100) window.SeenOrAdd(ids[i], t);
    auto start = bench::Clock::now();
    for (; i < bound; ++i, t += 100) window.SeenOrAdd(ids[i], t);
    below_ns = std::min(below_ns, bench::Seconds(start) * 1e9 / double(bound - bound / 2));
    start = bench::Clock::now();
    for (; i < 2 * bound; ++i, t += 100) window.SeenOrAdd(ids[i], t);
    at_ns = std::min(at_ns, bench::Seconds(start) * 1e9 / double(bound));
    held = window.size();

    absl::flat_hash_map<DedupeWindow::Id, TimeUs, IdHash> bare;
    for (i = 0; i < bound; ++i) bare.try_emplace(ids[i], TimeUs(i));
    start = bench::Clock::now();
    for (; i < 2 * bound; ++i) bare.try_emplace(ids[i], TimeUs(i));
    bare_ns = std::min(bare_ns, bench::Seconds(start) * 1e9 / double(bound));
  }
  std::printf(
      "{\"bench\":\"dedupe\",\"quick\":%s,\"max_entries\":%zu,\"held_at_end\":%zu,"
      "\"below_bound_ns_per_request\":%.1f,\"at_bound_ns_per_request\":%.1f,"
      "\"baseline\":\"bare absl::flat_hash_map try_emplace of the same ids, table as full\","
      "\"baseline_ns_per_request\":%.1f,\"ratio\":%.2f,\"rounds\":%d}\n",
      quick ? "true" : "false", bound, held, below_ns, at_ns, bare_ns, at_ns / bare_ns, rounds);
  return 0;
}
