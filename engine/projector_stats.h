// ProjectorStats: the projector's running totals, read by its probe after each commit
// (engine/projector_probe.h) and by tests and benchmarks.
//
// Thread safety: a value; the projector thread writes it, readers copy it under the projector's
// own synchronisation (Projector::stats()).

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace keymeter {

struct ProjectorStats {
  uint64_t batches = 0;
  uint64_t messages = 0;
  uint64_t requests_applied = 0;
  uint64_t duplicates = 0;
  uint64_t commands_retried = 0;  // idempotent commands answered with their first outcome
  uint64_t alerts_crossed = 0;    // threshold alerts raised (projections/alerts.h)
  uint64_t alerts_resolved = 0;
  // Webhook delivery attempts recorded (WebhookAttempted), by what came of them.
  uint64_t webhook_attempts[3] = {};  // delivered, retried, failed
  std::map<std::string, uint64_t> ops_applied;   // by op name
  std::map<std::string, uint64_t> dead_letters;  // by reason
  size_t last_batch_size = 0;
  std::chrono::microseconds last_commit_latency{0};
  size_t dedupe_entries = 0;  // over partitions, at the last commit
  size_t dedupe_bytes = 0;    // DedupeWindow::memory_bytes() over partitions
  // Where the projector thread's time went (a profile any run can print: bench_ingest does):
  // waiting on the source, applying, waiting for the previous batch's write, writing inline.
  std::chrono::microseconds poll_time{0};
  std::chrono::microseconds apply_time{0};
  std::chrono::microseconds write_wait_time{0};
};

}  // namespace keymeter
