// ProjectorProbe: the projector's metrics — events applied by op, dead letters by reason,
// duplicates dropped, batch size and commit latency, per-partition next offset and watermark,
// and RocksDB's live data size. Only projector_probe.cc includes prometheus-cpp.
//
// Thread safety: Publish() is called by the projector thread after each commit; LiveDataBytes()
// by /metrics handlers; prometheus metrics are thread-safe, the delta bookkeeping is guarded.

#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "engine/metrics.h"
#include "engine/partition_state.h"

namespace prometheus {
class Gauge;
}  // namespace prometheus

namespace keymeter {

struct ProjectorStats;

class ProjectorProbe {
 public:
  explicit ProjectorProbe(Metrics& metrics);
  ~ProjectorProbe();
  ProjectorProbe(const ProjectorProbe&) = delete;
  ProjectorProbe& operator=(const ProjectorProbe&) = delete;

  // A batch committed: publishes what changed in `stats` since the last call.
  void BatchCommitted(const ProjectorStats& stats, const std::map<int32_t, PartitionRecord>& parts);
  void LiveDataBytes(uint64_t bytes);

 private:
  prometheus::Family<prometheus::Counter>& applied_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Gauge>& next_offset_;
  prometheus::Family<prometheus::Gauge>& watermark_;
  prometheus::Counter* duplicates_ = nullptr;
  prometheus::Histogram* batch_size_ = nullptr;
  prometheus::Histogram* commit_seconds_ = nullptr;
  prometheus::Gauge* engine_watermark_ = nullptr;
  prometheus::Gauge* live_bytes_ = nullptr;
  std::mutex mu_;
  std::map<std::string, uint64_t> applied_seen_;       // GUARDED_BY(mu_)
  std::map<std::string, uint64_t> dead_letters_seen_;  // GUARDED_BY(mu_)
  uint64_t requests_seen_ = 0;                         // GUARDED_BY(mu_)
  uint64_t duplicates_seen_ = 0;                       // GUARDED_BY(mu_)
};

}  // namespace keymeter
