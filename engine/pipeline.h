// Pipeline: one running keymeter engine — the store, the projections, the projector on its own
// thread, and the log it follows (the embedded log, or a Kafka topic through a consumer group).
// `keymeter serve` and the integration tests build one; the HTTP API reads through it.
//
// Writes to the log go through Publish(): the embedded log's Append, or a Kafka produce keyed by
// account id (lz4, idempotent). Admin commands then AwaitOutcome() of their command id: the
// projector records each lifecycle op's outcome after the batch that applied it commits.
//
// Failure handling: a failed commit (a storage fault, or dead letters the broker did not take)
// stops the projector from advancing; the loop reports it through Readiness(), reopens the
// projections from the store and re-creates the source, which resumes from the stored offsets.
// A poll error (broker down) is reported and retried with backoff; a consumer that failed for
// good (KAFKA-FATAL, e.g. fenced by its own group.instance.id after a long outage) is replaced
// by a new one; authorize keeps answering from memory meanwhile (a producer that failed for good
// replaces its own librdkafka handle: KafkaProducer). An empty poll does not tell a
// caught-up consumer from one whose broker is gone (librdkafka reports a lost connection once,
// then retries quietly), so while idle in Kafka mode the loop asks the broker for the topic's
// bounds (at most once per kBrokerProbeInterval): unreachable means not ready, with reason
// "KAFKA-UNREACHABLE: ...".
//
// Thread safety: thread-safe. Readers of the directory and quota windows hold
// `projector().state_mutex()` shared.

#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "consumers/dead_letter.h"
#include "consumers/dead_letter_reader.h"
#include "consumers/embedded_log.h"
#include "consumers/kafka_producer.h"
#include "engine/projector.h"
#include "engine/store.h"

namespace keymeter {

struct PipelineOptions {
  std::string data_dir;
  // Kafka mode when set; the embedded log otherwise.
  std::string brokers;
  std::string topic = "keymeter.events";
  std::string group = "keymeter";
  std::string dlq_topic = "keymeter.dlq";
  // Static group membership (group.instance.id): a restarted process takes its partitions back
  // at once instead of waiting out the dead member's session. Empty: one made at random when
  // the store is first served in Kafka mode and kept in it ("instance" in "meta"), so one data
  // dir is one member wherever it is mounted (a copied data dir must be given its own).
  std::string instance_id;
  int32_t embedded_partitions = 4;
  bool read_only = false;  // serve a store without following any log
  ProjectorOptions projector{.overlap_commits = true};
  StoreOptions store;      // path is taken from data_dir
  size_t remembered_outcomes = 65'536;
  // Kafka mode: also tail, as a standby, the partitions SetStandbyPolicy() names (a cluster).
  bool standbys = false;
  // Kafka mode: the group session (session.timeout.ms; heartbeats every third of it). A member
  // that dies loses its partitions after this long; the broker's group.min.session.timeout.ms
  // (Kafka's default 6000) must not be above it.
  int32_t session_timeout_ms = 3000;
  // Kafka mode: a partition this member has rows of but that none of its consumers has read
  // (neither owned nor stood by) while another member held it (SetDropPolicy) for this long is
  // dropped from memory and store (Projector::DropPartition); zero keeps every partition. Long
  // enough to ride out rebalances.
  std::chrono::seconds drop_partition_after{300};
  // How long dead letters are kept (by log time). Embedded: older entries of column family
  // "dlq" are deleted at start and hourly; Kafka: retention.ms of the DLQ topic when keymeter
  // creates it (an existing topic keeps its own; kafka-configs.sh --alter changes it).
  TimeUs dlq_retention_us = 30 * kMicrosPerDay;
  // Ready (Readiness) once what is left of the log after a batch is at most this many
  // messages, or a batch came back empty. Under steady traffic almost no batch is empty, so
  // "empty" alone would keep a busy member not ready for good.
  int64_t ready_lag_messages = 50'000;
};

class Pipeline {
 public:
  static Result<std::unique_ptr<Pipeline>> Open(const PipelineOptions& options);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Starts the projector thread (not in read-only mode).
  void Start();
  // Lets the current batch commit, then stops the projector thread. Idempotent.
  void Stop();

  // Appends one envelope to the log, keyed by `account_id`. In Kafka mode it waits until the
  // broker acknowledged it (so a 2xx means durable). LOG-READ-ONLY in read-only mode.
  Status Publish(std::span<const uint8_t> envelope, std::string_view account_id);
  // Many at once (POST /v1/events): one flush for all in Kafka mode.
  Status PublishMany(std::span<const std::pair<std::string, std::string>> envelopes_and_accounts);

  // The outcome of lifecycle op `command_id` once applied (for an idempotent one, the key is
  // OutcomeKey(): schemas/envelope.h); nullopt on time-out.
  std::optional<Status> AwaitOutcome(const std::string& command_id,
                                     std::chrono::milliseconds timeout);

  // (ready, reason): ready once the projector caught up with the log (within
  // `ready_lag_messages` of its end, or idle; the end of every partition read known:
  // Source::LogEnds) and nothing failed.
  std::pair<bool, std::string> Readiness() const;
  bool kafka_mode() const { return !options_.brokers.empty(); }
  // The name offsets are stored under: "kafka/<topic>" or "embedded".
  std::string source_name() const {
    return kafka_mode() ? "kafka/" + options_.topic : "embedded";
  }
  const PipelineOptions& options() const { return options_; }

  // Sources made so far: 1 once the projector runs, more after a storage fault or a consumer
  // that failed for good (KAFKA-FATAL) was replaced.
  uint64_t sources_made() const { return sources_made_.load(std::memory_order_relaxed); }
  // Partitions dropped since Open (PipelineOptions::drop_partition_after).
  uint64_t partitions_dropped() const { return partitions_dropped_.load(std::memory_order_relaxed); }

  // Kafka clients that failed for good (KAFKA-FATAL) and were replaced: consumers by the
  // projector's loop, producers (admin ops, dead letters) by themselves. 0 in embedded mode.
  struct KafkaClientsReplaced {
    uint64_t consumers = 0;
    uint64_t producers = 0;
  };
  KafkaClientsReplaced kafka_clients_replaced() const;

  // The partitions this process owns, in order: in Kafka mode those the consumer group assigned
  // it now (none while it has no consumer); in embedded mode every partition of the log.
  std::vector<int32_t> OwnedPartitions() const;
  // True when `partition` is one of OwnedPartitions() (no copy: asked per request in a cluster).
  bool Owns(int32_t partition) const;
  // This process's group.instance.id in Kafka mode (PipelineOptions::instance_id), also its
  // member id in a cluster.
  std::string instance_id() const;
  // Bumped on every change of OwnedPartitions().
  uint64_t ownership_version() const;
  // Which partitions to tail as a standby (PipelineOptions::standbys): asked by the projector
  // thread at every poll, so it must be quick and thread-safe; unset = none.
  void SetStandbyPolicy(std::function<std::vector<int32_t>()> policy);
  // Whether a partition this process follows no more is held by someone else now (a cluster: a
  // live member owns it), so that it may be dropped (PipelineOptions::drop_partition_after);
  // asked by the projector thread, quick and thread-safe. Unset: nothing is ever dropped (one
  // process on its own keeps its partitions through a broker outage, however long).
  void SetDropPolicy(std::function<bool(int32_t)> policy);

  Store& store() { return *store_; }
  KeyDirectory& directory() { return *directory_; }
  QuotaWindows& quota() { return quota_; }
  Projector& projector() { return *projector_; }
  DeadLetterSink& dead_letters() { return *dead_letters_; }
  // The dead letters kept so far: the store's (embedded) or the DLQ topic's (Kafka).
  DeadLetterReader& dead_letter_reader() { return *dead_letter_reader_; }
  EmbeddedLog* embedded_log() { return log_.get(); }

 private:
  explicit Pipeline(const PipelineOptions& options)
      : options_(options), session_timeout_ms_(options.session_timeout_ms) {}
  Status Init();
  // Reads the store's group.instance.id, or makes one and keeps it there.
  Status LoadInstanceId();
  Result<std::unique_ptr<Source>> MakeSource();
  void Loop(std::stop_token stop);
  void RecordOutcome(const std::string& command_id, const Status& outcome);
  void SetState(bool caught_up, std::string error);
  // Forgets the owned partitions once the consumer that held them is gone.
  void ReleaseOwnership();
  // "" when the log behind `source` answered the last probe (at most one a second); else the
  // reason.
  std::string ProbeBroker(Source& source);
  // Drops a stored partition `source` has not read for drop_partition_after (between batches,
  // on the projector thread): true when one was. An error: the projector is broken.
  Result<bool> DropUnfollowed(Source& source);
  // Applies PipelineOptions::dlq_retention_us (at most hourly; the projector thread's).
  void KeepDeadLetters();

  static constexpr std::chrono::milliseconds kBrokerProbeInterval{1000};
  static constexpr std::chrono::milliseconds kBrokerProbeTimeout{1000};

  const PipelineOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<KeyDirectory> directory_;
  QuotaWindows quota_;
  std::unique_ptr<DeadLetterSink> dead_letters_;
  std::unique_ptr<DeadLetterReader> dead_letter_reader_;
  std::unique_ptr<Projector> projector_;
  std::unique_ptr<EmbeddedLog> log_;
  std::unique_ptr<KafkaProducer> producer_;
  std::jthread thread_;

  // The projector thread's only.
  std::chrono::steady_clock::time_point last_probe_{};
  std::string probe_error_;

  std::atomic<uint64_t> sources_made_{0};
  std::atomic<uint64_t> consumers_replaced_{0};
  std::atomic<uint64_t> partitions_dropped_{0};
  // The projector thread's: the group session asked for, options_.session_timeout_ms doubled
  // each time the broker refuses it (KAFKA-SESSION-REFUSED), up to kMaxSessionMs.
  static constexpr int32_t kMaxSessionMs = 300'000;
  int32_t session_timeout_ms_ = 0;
  // The projector thread's: when each stored partition was last read by a consumer of ours.
  std::map<int32_t, std::chrono::steady_clock::time_point> last_followed_;
  std::chrono::steady_clock::time_point last_drop_check_;
  std::string instance_id_;  // the store's, when PipelineOptions::instance_id is empty
  std::optional<std::chrono::steady_clock::time_point> last_dlq_kept_;

  mutable std::mutex mu_;
  std::condition_variable outcome_cv_;
  std::unordered_map<std::string, Status> outcomes_;  // GUARDED_BY(mu_)
  std::deque<std::string> outcome_order_;             // GUARDED_BY(mu_)
  bool caught_up_ = false;                            // GUARDED_BY(mu_)
  std::set<int32_t> owned_;                           // GUARDED_BY(mu_), Kafka mode
  std::function<std::vector<int32_t>()> standby_policy_;  // GUARDED_BY(mu_)
  std::function<bool(int32_t)> drop_policy_;              // GUARDED_BY(mu_)
  uint64_t ownership_version_ = 0;                    // GUARDED_BY(mu_)
  std::string error_;                                 // GUARDED_BY(mu_)
};

}  // namespace keymeter
