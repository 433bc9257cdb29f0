// project: request events per second through the projector alone — decode, checks, dedupe,
// usage, quota, request log and the RocksDB commit — with the log held in memory, so the figure
// is keymeter's own cost without Kafka. Its same-run baseline is a loop that only verifies each
// FlatBuffers envelope (the least any consumer of the log must do).
//
//   bench_project [--quick] [--events N] [--batch N]   (--batch: max events per batch)
//
// Workload: loadgen's (10,000 accounts, 100,000 keys, a third children, Zipf popularity),
// 4 partitions. Prints one JSON object.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "cli/loadgen_workload.h"
#include "consumers/dead_letter.h"
#include "consumers/source.h"
#include "engine/projector.h"
#include "schemas/envelope.h"

using namespace keymeter;
using bench::Clock;
using bench::CpuSeconds;
using bench::Seconds;

namespace {

constexpr int kPartitions = 4;

struct Args {
  bool quick = false;
  int64_t events = 5'000'000;
  size_t batch = ProjectorOptions{}.max_batch_events;
  bool overlap = true;  // as keymeter serve runs it (PipelineOptions' default)
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") {
      a.quick = true, a.events = 500'000;
    } else if (arg == "--events" && i + 1 < argc) {
      a.events = std::atoll(argv[++i]);
    } else if (arg == "--no-overlap") {
      a.overlap = false;
    } else if (arg == "--batch" && i + 1 < argc) {
      a.batch = size_t(std::atoll(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_project [--quick] [--events N] [--batch N] [--no-overlap]\n");
      std::exit(2);
    }
  }
  return a;
}


// The log in memory: partitions filled by account, read round-robin in polls of `max`, up to a
// limit per partition (so the setup can be projected before the timed part).
class MemorySource : public Source {
 public:
  explicit MemorySource(std::vector<std::vector<std::string>> partitions)
      : partitions_(std::move(partitions)), next_(partitions_.size(), 0),
        limit_(partitions_.size(), 0) {}

  void set_limits(std::vector<size_t> limits) { limit_ = std::move(limits); }

  Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                      std::chrono::milliseconds) override {
    out->clear();
    bool any = true;
    while (out->size() < max && any) {
      any = false;
      for (size_t p = 0; p < partitions_.size() && out->size() < max; ++p) {
        if (next_[p] >= limit_[p]) continue;
        const std::string& m = partitions_[p][next_[p]];
        out->push_back(SourceMessage{
            .partition = int32_t(p), .offset = int64_t(next_[p]),
            .payload = std::span(reinterpret_cast<const uint8_t*>(m.data()), m.size())});
        ++next_[p];
        any = true;
      }
    }
    return out->size();
  }
  bool AtEnd() const override {
    for (size_t p = 0; p < partitions_.size(); ++p) {
      if (next_[p] < limit_[p]) return false;
    }
    return true;
  }
  std::string name() const override { return "memory"; }

 private:
  std::vector<std::vector<std::string>> partitions_;
  std::vector<size_t> next_, limit_;
};

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  LoadgenOptions lo;
  if (args.quick) lo.accounts = 2'000, lo.keys = 20'000;
  // Event time close to now, so no event is judged to be from the future.
  lo.start_us = NowUs() - TimeUs(args.events) * lo.step_us;
  Loadgen gen(lo);

  std::vector<std::vector<std::string>> setup(kPartitions), requests(kPartitions);
  std::hash<std::string> hash;
  for (auto& [envelope, account] : gen.SetupEnvelopes()) {
    setup[hash(account) % kPartitions].push_back(std::move(envelope));
  }
  int64_t bytes = 0;
  for (int64_t i = 0; i < args.events; ++i) {
    auto [envelope, account] = gen.NextRequest();
    bytes += int64_t(envelope.size());
    requests[hash(account) % kPartitions].push_back(std::move(envelope));
  }
  // Setup first, then the requests after it in each partition.
  std::vector<size_t> setup_sizes, all_sizes;
  for (int p = 0; p < kPartitions; ++p) {
    setup_sizes.push_back(setup[p].size());
    for (std::string& e : requests[p]) setup[p].push_back(std::move(e));
    all_sizes.push_back(setup[p].size());
  }

  // Baseline: verify every envelope once.
  const auto baseline_start = Clock::now();
  int64_t verified = 0;
  for (const auto& partition : setup) {
    for (const std::string& m : partition) {
      verified += VerifyEnvelope(std::span(reinterpret_cast<const uint8_t*>(m.data()), m.size())) !=
                  nullptr;
    }
  }
  const double baseline_s = Seconds(baseline_start);

  const std::string dir =
      (std::filesystem::temp_directory_path() / ("keymeter-bench-project-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove_all(dir);
  double project_s = 0, project_cpu_s = 0;
  ProjectorStats stats, setup_stats;
  {
    auto store = std::move(Store::Open({.path = dir}).value());
    KeyDirectory directory(store->cfs());
    QuotaWindows quota;
    EmbeddedDeadLetterSink dead_letters;
    Projector projector(*store, directory, quota, dead_letters,
                        ProjectorOptions{.max_batch_events = args.batch,
                                         .overlap_commits = args.overlap});
    if (Status s = projector.Open("memory", NowUs()); !s.ok()) {
      std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
      return 1;
    }
    MemorySource source(std::move(setup));
    // The setup (accounts and keys) is projected first and not timed.
    source.set_limits(setup_sizes);
    while (!source.AtEnd()) {
      if (!projector.RunBatch(source)) return 1;
    }
    source.set_limits(all_sizes);
    setup_stats = projector.stats();
    const auto start = Clock::now();
    const double cpu_start = CpuSeconds();
    while (!source.AtEnd()) {
      Result<size_t> n = projector.RunBatch(source);
      if (!n) {
        std::fprintf(stderr, "batch: %s\n", n.error().ToString().c_str());
        return 1;
      }
    }
    project_s = Seconds(start);
    project_cpu_s = CpuSeconds() - cpu_start;
    stats = projector.stats();
  }
  std::filesystem::remove_all(dir);

  const double rate = double(args.events) / project_s;
  const double baseline_rate = double(verified) / baseline_s;
  std::printf(
      "{\"bench\":\"project\",\"quick\":%s,\"events\":%lld,\"accounts\":%d,\"keys\":%d,"
      "\"partitions\":%d,\"keymeter_events_per_s\":%.0f,\"baseline\":\"FlatBuffers verify of "
      "each envelope\",\"baseline_events_per_s\":%.0f,\"ratio\":%.4f,\"verified\":%lld,"
      "\"requests_applied\":%llu,\"batches\":%llu,\"avg_envelope_bytes\":%.1f,"
      "\"wall_s\":%.2f,\"cpu_s\":%.2f,\"cpu_us_per_event\":%.2f,\"overlap_commits\":%s,"
      "\"projector_thread_us_per_event\":{\"apply\":%.3f,\"write_wait\":%.3f}}\n",
      args.quick ? "true" : "false", (long long)args.events, lo.accounts, lo.keys, kPartitions, rate,
      baseline_rate, rate / baseline_rate, (long long)verified,
      (unsigned long long)stats.requests_applied, (unsigned long long)stats.batches,
      double(bytes) / double(args.events), project_s, project_cpu_s,
      project_cpu_s * 1e6 / double(args.events), args.overlap ? "true" : "false",
      double((stats.apply_time - setup_stats.apply_time).count()) / double(args.events),
      double((stats.write_wait_time - setup_stats.write_wait_time).count()) / double(args.events));
  return 0;
}
