// Projector: applies envelopes from a Source to the projections, in log order, exactly once.
//
// Each RunBatch() polls up to `max_batch_events` messages or for `max_batch_time`, whichever
// comes first, applies them, and commits one RocksDB WriteBatch that holds every state change of
// the batch AND the next offset of every partition it touched. A crash before the write loses
// the whole batch (the source re-delivers it from the stored offsets); after it, nothing is
// applied twice. Bad messages go to the dead-letter queue with their reason and their offsets
// advance like any other.
//
// Request events: verified and checked (UNKNOWN-KEY, ACCOUNT-MISMATCH, KEY-DELETED, KEY-EXPIRED
// at or past the key's effective expiry in event time, FUTURE-TIMESTAMP beyond `future_tolerance_us` of the log's own time, TOO-LATE for a month
// closed in its partition: the partition's watermark is past the month's end plus
// `month_close_lateness_us`, so its billed figures never change), deduplicated by request
// id per partition, then counted in usage (key, root, account; hour/day/month; product/day), in
// the quota windows (and the rate windows of a pool or member with rate limits), spent from the
// pool's credits when it has them on (the keys whose balance moved are written with the batch),
// and in the request log. Lifecycle ops go to the key directory, whose
// outcome is handed to the outcome listener after the commit.
//
// With `overlap_commits`, a batch is written on a thread of its own while RunBatch() goes on
// with the next one; at most one write is in flight, and the next commit waits for it, so
// batches reach the store in order, each whole, with its offsets. A batch that ends a finite
// source (AtEnd) is written before RunBatch() returns; a RunBatch() that finds nothing to read
// waits for the write in flight, so an idle projector has committed everything. The overlap
// keeps the quota fresh under load: events are applied while the previous batch is written,
// instead of waiting for it (a batch that ended because the log went idle for a moment used to
// be written inline, and the next events waited for it: freshness p99 122 ms at 100k events/s).
// Outcomes of lifecycle ops are handed out right after their batch's write.
//
// Thread safety: RunBatch() is called from one thread. It takes `state_mutex()` exclusively
// while it changes in-memory state; readers of the directory and quota windows take it shared.
// If a commit fails, the in-memory state is ahead of the store: RunBatch() returns the error and
// the projector refuses to run until Open() reloads everything from the store (and the source
// must be re-created so it re-reads from the stored offsets).

#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "consumers/dead_letter.h"
#include "consumers/decode.h"
#include "consumers/source.h"
#include "engine/freshness.h"
#include "engine/partition_state.h"
#include "engine/projector_stats.h"
#include "engine/store.h"
#include "projections/dedupe.h"
#include "projections/idempotency.h"
#include "projections/key_directory.h"
#include "projections/quota.h"
#include "projections/request_log.h"
#include "projections/usage.h"

namespace keymeter {

struct ProjectorOptions {
  size_t max_batch_events = 500'000;
  // Messages applied per hold of the state lock: readers (authorize) wait at most for this many
  // (~4 ms at 1 us each), whatever the backlog.
  size_t max_apply_chunk = 4'096;
  std::chrono::milliseconds max_batch_time{1000};
  // A batch that holds messages commits when none arrived for this long.
  std::chrono::milliseconds idle_commit_after{5};
  size_t max_message_bytes = 1 << 20;
  TimeUs future_tolerance_us = 5 * 60 * kMicrosPerSecond;
  TimeUs dedupe_window_us = kMicrosPerHour;
  size_t dedupe_max_entries = 2'000'000;  // per partition
  TimeUs request_retention_us = 30 * kMicrosPerDay;
  // A month closes in a partition once the partition's watermark (its latest event time) is
  // this far past the month's end; later events of it are dead-lettered TOO-LATE. The same
  // lateness as billing's "complete" (KEYMETER_BILLING_LATENESS_SECONDS).
  TimeUs month_close_lateness_us = kMicrosPerHour;
  // A batch ends early once its dead letters buffered in the sink pass this many bytes (each
  // is at most kDeadLetterPayloadLimit plus its header), so the sink's memory stays bounded.
  size_t max_dead_letter_bytes = size_t{64} << 20;
  // Write a batch on a thread of its own while the next batch is applied (see the file comment).
  // Off, RunBatch() returns with its batch committed, whatever the source holds next.
  bool overlap_commits = false;
};

class ProjectorProbe;

class Projector {
 public:
  // `dead_letters` receives bad messages; for an EmbeddedDeadLetterSink they are written into the
  // batch's WriteBatch, for Kafka they are flushed before the batch commits.
  Projector(Store& store, KeyDirectory& directory, QuotaWindows& quota, DeadLetterSink& dead_letters,
            ProjectorOptions options);
  ~Projector();

  // Loads the directory, partition records and dedupe windows from the store, and the quota
  // windows as of `now`. `source_name` must match the one the store was built from
  // (SOURCE-MISMATCH otherwise; a fresh store adopts it).
  Status Open(const std::string& source_name, TimeUs now);

  // The next offset to read of `partition`, for the source; nullopt when never read.
  std::optional<int64_t> StoredOffset(int32_t partition) const;

  // One batch. Returns how many messages it consumed (0 when the source had none in time), or
  // the source's error: a poll that failed once the batch held messages ends the batch, which
  // is committed, and then its error is returned.
  Result<size_t> RunBatch(Source& source);

  // Waits for a batch still being written (with `overlap_commits`) and tells `source` (may be
  // null) its offsets. Returns the write's error, after which the projector is broken.
  Status Drain(Source* source);

  // Forgets `partition`: its rows leave the store (engine/partition_drop.h), and its accounts,
  // keys, quota windows, dedupe window and offsets leave memory. For a partition no source
  // reads any more, between batches. An error leaves the projector broken (Open() again).
  Status DropPartition(Source* source, int32_t partition);

  // Called after each commit with the command id and outcome of every lifecycle op in it.
  void set_outcome_listener(std::function<void(const std::string&, const Status&)> fn) {
    outcome_listener_ = std::move(fn);
  }

  // Reservations hook (engine/reservations.h): called under the state mutex (exclusive), during
  // apply, right after a request event was counted in the quota windows, with its root, key and
  // request id. Set before the projector runs; must not block or call back into the projector.
  using RequestListener = std::function<void(KeyId root, KeyId key, const RequestIdBytes& id)>;
  void set_request_listener(RequestListener fn) { request_listener_ = std::move(fn); }

  // Minimum over partitions of the latest accepted event time; nullopt before any.
  std::optional<TimeUs> Watermark() const;
  // How fresh the in-memory state of `account` is (engine/freshness.h): its partition's applied
  // watermark and lag. The caller holds state_mutex() (shared or exclusive); nullopt for an
  // account on no partition held here.
  std::optional<Freshness> FreshnessOf(std::string_view account) const;
  // The same over every partition held: the oldest watermark and the summed lag. Takes the
  // state mutex (shared) itself.
  Freshness EngineFreshness() const;
  // False while the source did not know the end of every partition it reads, at the last
  // batch (LogEndsSeen::all_known): the lag above may then hide a backlog. Thread-safe.
  bool LogEndsKnown() const;
  // The partition records as of the last successful commit (what a restart resumes from).
  std::map<int32_t, PartitionRecord> Partitions() const;
  // True after a failed commit, until Open(): the in-memory state may be ahead of the store.
  bool broken() const { return broken_; }
  // False from the start of an Open() that failed until one succeeds: the projections are then
  // half loaded (a read error midway), and nothing may be answered from them. Call with
  // state_mutex() held, shared or not.
  bool loaded_locked() const { return loaded_; }
  const ProjectorStats& stats() const { return stats_; }
  // Metrics after each commit; may be null. Set before the projector runs.
  void set_probe(ProjectorProbe* probe) { probe_ = probe; }
  std::shared_mutex& state_mutex() { return state_mutex_; }

 private:
  struct PartitionState {
    PartitionRecord record;
    std::unique_ptr<DedupeWindow> dedupe;
    std::vector<std::string> accounts;  // accounts whose events come from this partition
    bool dirty = false;
    bool retention_moved = false;
    int64_t log_end = 0;  // the source's view of the log's end (LogEnds), for the lag
  };
  // Every account's partition, as PartitionState::accounts lists them.
  absl::flat_hash_map<std::string, int32_t> partition_of_account_;

  // A batch ready to write: what Apply() gathered, moved out so the next batch can start.
  struct PendingCommit {
    std::unique_ptr<rocksdb::WriteBatch> batch;  // lifecycle ops, account notes, dead letters
    UsageBatch usage;
    RequestLogBatch requests;
    std::vector<std::pair<std::string, TimeUs>> retention;  // (account, cutoff), after the appends
    std::vector<PartitionOffset> offsets;        // of the partitions this batch advanced
    std::map<int32_t, PartitionRecord> records;  // every partition, as of this batch
    std::vector<std::pair<std::string, Status>> outcomes;
    uint64_t idempotency_generation = 0;  // IdempotencyLedger::Seal()
    std::chrono::steady_clock::time_point start;
    Status status;  // of the write
    std::chrono::microseconds latency{0};  // from the start of the commit to the end of the write
  };

  PartitionState& Partition(int32_t partition);
  // Keeps the source's view of each partition's end (for the lag) and hands it to the probe.
  void NoteLogEnds(Source& source);
  // True when `account` is on `partition` ("acct/" records, NoteAccount).
  bool OnPartition(std::string_view account, int32_t partition) const;
  // Applies a chunk in log order, in groups of kPrefetchGroup: each group is decoded first and
  // the rows its requests will touch are prefetched (dedupe window, key directory, quota
  // windows, usage batch), so their cache misses overlap instead of stalling one event after
  // another (bench/README.md: apply 1.65 -> 1.45 us per event, medians of 6 runs each).
  void ApplyAll(const std::vector<SourceMessage>& messages);
  // What Prefetch worked out for a request event, handed on to its apply so that it is not
  // worked out twice.
  struct Prefetched {
    std::optional<KeyId> key;   // the event's key id; nullopt when it does not parse
    DedupeWindow::Id dedupe{};  // its account and request id, as the dedupe window keys them
  };
  // Starts loading what applying `env` (a verified envelope) will read: the slots of a request
  // event's key in the dedupe window, the key directory, the quota windows and the usage batch.
  Prefetched Prefetch(const fb::Envelope& env, const SourceMessage& message);
  void Apply(const SourceMessage& message, Decoded decoded, const Prefetched& prefetched);
  void ApplyRequest(const fb::Envelope& env, const SourceMessage& message, PartitionState& part,
                    const Prefetched& prefetched);
  // A lifecycle op: its outcome, or (an idempotent command seen before) the first one.
  Status ApplyOp(const fb::Envelope& env, const SourceMessage& message, PartitionState& part);
  // Alerts (projector_alerts.cc): what the key of a limit or threshold op watched before it;
  // the alerts its change raised; the alerts in raised_ into the batch.
  std::optional<AlertWatch> WatchBefore(const fb::Envelope& env) const;
  void RaiseAlertsOfChange(const AlertWatch& before, TimeUs time_us);
  void PutRaisedAlerts();
  // WebhookAttempted, AlertsPublished: System only (FORBIDDEN), of an existing account.
  Status ApplyDeliveryOp(const fb::Envelope& env);
  void DeadLetterOf(const SourceMessage& message, Code reason, std::string detail);
  void NoteAccount(PartitionState& part, int32_t partition, const std::string& account_id);
  Status Commit(Source& source, bool wait);
  // Builds `c`'s WriteBatch and writes it (on the writer thread, or inline); then publishes its
  // partition records and outcomes. Touches no state of the next batch.
  void Write(PendingCommit& c);
  Status LoadPartitions();
  // The committed partitions to the probe, under committed_mu_ so that the background writer
  // and the projector thread never publish an older snapshot over a newer one.
  void PublishCommitted();

  Store& store_;
  KeyDirectory& directory_;
  QuotaWindows& quota_;
  DeadLetterSink& dead_letters_;
  const ProjectorOptions options_;
  std::string source_name_;
  bool broken_ = true;  // until Open()
  bool loaded_ = true;  // under state_mutex_; see loaded_locked()

  std::map<int32_t, PartitionState> partitions_;
  bool log_ends_known_ = true;  // LogEndsSeen::all_known at NoteLogEnds, under state_mutex_
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  std::unique_ptr<rocksdb::WriteBatch> spare_batch_;  // a written batch's, cleared, for reuse
  std::unique_ptr<PendingCommit> in_flight_;         // handed to writing_, not yet drained
  std::future<void> writing_;
  UsageBatch usage_;
  RequestLogBatch requests_;
  std::vector<std::pair<std::string, Status>> outcomes_;
  IdempotencyLedger idempotency_;
  std::vector<Alert> raised_;  // reused
  std::function<void(const std::string&, const Status&)> outcome_listener_;
  RequestListener request_listener_;  // reservations hook, may be empty
  ProjectorStats stats_;
  ProjectorProbe* probe_ = nullptr;
  mutable std::shared_mutex state_mutex_;
  mutable std::mutex committed_mu_;
  std::map<int32_t, PartitionRecord> committed_;  // GUARDED_BY(committed_mu_)
};

}  // namespace keymeter
