// memory: resident bytes per key of the in-memory key directory (what authorize reads) and per
// active quota counter, at 1,000,000 keys (--quick: 50,000).
//
//   bench_memory [--quick] [--keys N]
//
// bytes_per_key is the directory alone: the RSS a second KeyDirectory adds when it loads the same
// store beside the first (the marginal cost of a key, without RocksDB's or the process's fixed
// overheads); bytes_per_key_process is (rss1 - rss0 - RocksDB's memory) / keys, everything the
// open added, fixed overheads included.
// Build (this process): loadgen's population (keys/10 accounts, a third of the keys children)
// applied to a fresh embedded-mode store, then one request event per key, dated now, appended to
// the embedded log but not applied. Measure (a fresh child process, `--measure DIR`, so that
// nothing of the build stays resident):
//   rss0  at start;
//   rss1  after Pipeline::Open — the store opened, the key directory and quota windows loaded;
//   rss2  after the projector applied the request events, so every key's pool and member
//         counters for today are live (and the dedupe window holds those request ids).
// RocksDB's own memory (block cache, table readers, memtables: its properties) is subtracted
// from each step, and the allocator's trimmed (malloc_trim) before each reading. Also reported:
// the heap in use (mallinfo2) for the same steps. No baseline: the goal is absolute
// (≤ 200 B per key). Prints one JSON object.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "bench/bench_util.h"
#include "engine/process_memory.h"
#include "schemas/envelope_builder.h"

using namespace keymeter;
using namespace keymeter::bench;

namespace {

struct Reading {
  int64_t rss = 0;
  int64_t heap = 0;
  int64_t rocksdb = 0;
};

Reading Read(Pipeline* pipeline) {
  malloc_trim(0);
  const int64_t rocksdb = pipeline != nullptr ? int64_t(pipeline->store().MemoryUsage().total()) : 0;
  return {int64_t(ResidentBytes()), int64_t(HeapInUseBytes()), rocksdb};
}

int Measure(const std::string& dir, int64_t messages) {
  const Reading r0 = Read(nullptr);
  std::unique_ptr<Pipeline> pipeline = OpenPipeline({.data_dir = dir});
  const Reading r1 = Read(pipeline.get());
  const size_t keys = pipeline->directory().key_count();
  const size_t accounts = pipeline->directory().account_count();
  // The directory alone: a second copy loaded from the same store, beside the first.
  Reading d0, d1;
  {
    d0 = Read(pipeline.get());
    KeyDirectory copy(pipeline->store().cfs());
    if (Status s = copy.Load(pipeline->store().db()); !s.ok()) {
      return std::fprintf(stderr, "load: %s\n", s.ToString().c_str()), 1;
    }
    d1 = Read(pipeline.get());
  }
  const auto start = Clock::now();
  pipeline->Start();
  WaitApplied(*pipeline, messages);
  pipeline->Stop();
  const double apply_s = Seconds(start);
  const Reading r2 = Read(pipeline.get());
  const size_t counters = pipeline->quota().size();
  auto per = [](int64_t bytes, size_t n) { return n == 0 ? 0.0 : double(bytes) / double(n); };
  std::printf(
      "{\"keys\":%zu,\"accounts\":%zu,\"counters\":%zu,\"rss0\":%lld,\"rss1\":%lld,\"rss2\":%lld,"
      "\"rocksdb1\":%lld,\"rocksdb2\":%lld,\"heap0\":%lld,\"heap1\":%lld,\"heap2\":%lld,"
      "\"bytes_per_key\":%.1f,\"bytes_per_key_heap\":%.1f,\"bytes_per_key_process\":%.1f,"
      "\"bytes_per_key_process_heap\":%.1f,"
      "\"bytes_per_counter\":%.1f,\"bytes_per_counter_heap\":%.1f,"
      "\"bytes_per_key_with_counters\":%.1f,\"apply_seconds\":%.2f}\n",
      keys, accounts, counters, (long long)r0.rss, (long long)r1.rss, (long long)r2.rss,
      (long long)r1.rocksdb, (long long)r2.rocksdb, (long long)r0.heap, (long long)r1.heap,
      (long long)r2.heap, per(d1.rss - d0.rss - (d1.rocksdb - d0.rocksdb), keys),
      per(d1.heap - d0.heap - (d1.rocksdb - d0.rocksdb), keys),
      per(r1.rss - r0.rss - r1.rocksdb, keys), per(r1.heap - r0.heap - r1.rocksdb, keys),
      per(r2.rss - r1.rss - (r2.rocksdb - r1.rocksdb), counters),
      per(r2.heap - r1.heap - (r2.rocksdb - r1.rocksdb), counters),
      per(r2.rss - r0.rss - r2.rocksdb, keys), apply_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int keys = 1'000'000;
  std::string measure_dir;
  int64_t messages = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true, keys = 50'000;
    else if (a == "--keys" && i + 1 < argc) keys = std::atoi(argv[++i]);
    else if (a == "--measure" && i + 2 < argc) measure_dir = argv[++i], messages = std::atoll(argv[++i]);
    else return std::fprintf(stderr, "usage: bench_memory [--quick] [--keys N]\n"), 2;
  }
  if (!measure_dir.empty()) return Measure(measure_dir, messages);

  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("keymeter-bench-memory-" + RandomSuffix()))
                              .string();
  LoadgenOptions lo;
  lo.keys = keys;
  lo.accounts = std::max(1, keys / 10);
  lo.start_us = NowUs() - kMicrosPerSecond;
  const auto build_start = Clock::now();
  int64_t messages_in_log = 0;
  {
    Loadgen gen(lo);
    std::unique_ptr<Pipeline> pipeline = BuildPopulation({.data_dir = dir}, gen, {}, &messages_in_log);
    std::vector<std::pair<std::string, std::string>> requests;
    requests.reserve(gen.keys().size());
    const TimeUs now = NowUs();
    uint64_t seq = 0;
    for (const LoadgenKey& k : gen.keys()) {
      RequestFields r;
      ++seq;
      std::memcpy(r.request_id.data(), &seq, 8);
      r.key_id = k.id;
      r.account_id = k.account;
      r.time_us = now;
      r.product = "whois";
      r.client_ip = "198.51.100.7";
      r.gateway_id = "gw-1";
      requests.emplace_back(BuildRequestEvent(r), k.account);
    }
    PublishAll(*pipeline, requests);
    messages_in_log += int64_t(requests.size());
  }
  const double build_s = Seconds(build_start);

  // KEYMETER_BENCH_MEMORY_WRAPPER (e.g. "heaptrack -o /tmp/km") runs the measure under a profiler.
  const char* wrapper = std::getenv("KEYMETER_BENCH_MEMORY_WRAPPER");
  const std::string command =
      std::string(wrapper != nullptr ? wrapper : "") + " '" + std::string(argv[0]) + "' --measure '" + dir + "' " + std::to_string(messages_in_log);
  FILE* out = popen(command.c_str(), "r");
  std::string line;
  char buf[4096];
  while (out != nullptr && std::fgets(buf, sizeof buf, out) != nullptr) line += buf;
  const int rc = out == nullptr ? -1 : pclose(out);
  std::filesystem::remove_all(dir);
  if (rc != 0 || line.size() < 2) return std::fprintf(stderr, "bench_memory: measure failed\n"), 1;
  while (!line.empty() && (line.back() == '\n' || line.back() == '}')) line.pop_back();
  std::printf("{\"bench\":\"memory\",\"quick\":%s,\"build_seconds\":%.1f,\"goal_bytes_per_key\":200,%s}\n",
              quick ? "true" : "false", build_s, line.c_str() + 1);
  return 0;
}
