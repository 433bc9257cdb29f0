#include "engine/pipeline.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "consumers/kafka_admin.h"
#include "consumers/kafka_source.h"
#include "engine/partition_state.h"
#include "engine/secrets.h"
#include "schemas/clock.h"
#include "schemas/thread_name.h"

namespace keymeter {

Result<std::unique_ptr<Pipeline>> Pipeline::Open(const PipelineOptions& options) {
  std::unique_ptr<Pipeline> p(new Pipeline(options));
  if (Status s = p->Init(); !s.ok()) return s;
  return p;
}

Status Pipeline::Init() {
  StoreOptions store_options = options_.store;
  store_options.path = options_.data_dir;
  store_options.read_only = options_.read_only;
  Result<std::unique_ptr<Store>> store = Store::Open(store_options);
  if (!store) return store.error();
  store_ = std::move(store.value());
  directory_ = std::make_unique<KeyDirectory>(store_->cfs());
  if (kafka_mode() && !options_.read_only && options_.instance_id.empty()) {
    if (Status s = LoadInstanceId(); !s.ok()) return s;
  }
  if (kafka_mode()) {
    KafkaProducerOptions producer_options{.brokers = options_.brokers};
    Result<std::unique_ptr<KafkaProducer>> dlq_producer = KafkaProducer::Create(producer_options);
    if (!dlq_producer) return dlq_producer.error();
    dead_letters_ = std::make_unique<KafkaDeadLetterSink>(std::move(dlq_producer.value()),
                                                          options_.dlq_topic);
    Result<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(producer_options);
    if (!producer) return producer.error();
    producer_ = std::move(producer.value());
    dead_letter_reader_ = std::make_unique<KafkaDeadLetters>(
        KafkaDeadLettersOptions{.brokers = options_.brokers, .topic = options_.dlq_topic});
  } else {
    dead_letters_ = std::make_unique<EmbeddedDeadLetterSink>();
    dead_letter_reader_ =
        std::make_unique<StoreDeadLetters>(store_->db(), store_->cfs()[Cf::kDlq]);
    if (!options_.read_only) {
      Result<std::unique_ptr<EmbeddedLog>> log = EmbeddedLog::Open(
          store_->db(), store_->cfs()[Cf::kLog], {.partitions = options_.embedded_partitions});
      if (!log) return log.error();
      log_ = std::move(log.value());
    }
  }
  projector_ = std::make_unique<Projector>(*store_, *directory_, quota_, *dead_letters_,
                                           options_.projector);
  projector_->set_outcome_listener(
      [this](const std::string& id, const Status& outcome) { RecordOutcome(id, outcome); });
  if (options_.read_only) {
    // Load the projections without claiming a source.
    if (Status s = directory_->Load(store_->db()); !s.ok()) return s;
    return quota_.Restore(store_->db(), store_->cfs()[Cf::kUsage], *directory_, NowUs());
  }
  return projector_->Open(source_name(), NowUs());
}

Pipeline::~Pipeline() { Stop(); }

void Pipeline::Start() {
  if (options_.read_only || thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) {
    SetThreadName("km-apply");
    Loop(stop);
  });
}

void Pipeline::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

Result<std::unique_ptr<Source>> Pipeline::MakeSource() {
  auto stored = [this](int32_t partition) { return projector_->StoredOffset(partition); };
  if (!kafka_mode()) return std::unique_ptr<Source>(std::make_unique<EmbeddedLogSource>(*log_, stored));
  const std::string instance = instance_id();
  Result<std::unique_ptr<KafkaSource>> source = KafkaSource::Create(
      {.brokers = options_.brokers, .group_id = options_.group, .topic = options_.topic,
       .stored_offset = stored,
       .extra = {{"group.instance.id", instance},
                 {"session.timeout.ms", std::to_string(session_timeout_ms_)},
                 {"heartbeat.interval.ms", std::to_string(std::max(session_timeout_ms_ / 3, 100))}},
       .on_ownership =
           [this](int32_t partition, bool assigned) {
             std::lock_guard lock(mu_);
             if (assigned ? owned_.insert(partition).second : owned_.erase(partition) > 0) {
               ++ownership_version_;
             }
           },
       .standby_partitions = !options_.standbys ? std::function<std::vector<int32_t>()>()
                                                : [this] {
                                                    std::function<std::vector<int32_t>()> policy;
                                                    {
                                                      std::lock_guard lock(mu_);
                                                      policy = standby_policy_;
                                                    }
                                                    return policy ? policy()
                                                                  : std::vector<int32_t>();
                                                  }});
  if (!source) return source.error();
  return std::unique_ptr<Source>(std::move(source.value()));
}

void Pipeline::KeepDeadLetters() {
  const auto now = std::chrono::steady_clock::now();
  if (last_dlq_kept_ && now - *last_dlq_kept_ < std::chrono::hours(1)) return;
  const bool first = !last_dlq_kept_;
  last_dlq_kept_ = now;
  if (!kafka_mode()) {
    Status s = TrimDeadLetters(store_->db(), store_->cfs()[Cf::kDlq],
                               NowUs() - options_.dlq_retention_us);
    if (!s.ok()) spdlog::warn("dead letters: {}", s.ToString());
    return;
  }
  if (!first) return;  // the topic's retention applies itself; set it once, if keymeter creates it
  const TopicSpec spec{.name = options_.dlq_topic,
                       .configs = {{"retention.ms",
                                    std::to_string(options_.dlq_retention_us / 1000)}}};
  if (Status s = EnsureTopic(options_.brokers, spec, std::chrono::seconds(5)); !s.ok()) {
    spdlog::warn("dead letters: could not ensure topic {}: {}", options_.dlq_topic, s.ToString());
  }
}

void Pipeline::Loop(std::stop_token stop) {
  std::unique_ptr<Source> source;
  auto backoff = std::chrono::milliseconds(100);
  bool reopen = false;
  while (!stop.stop_requested()) {
    if (reopen) {
      // A commit failed, so the in-memory state may be ahead of the store: once RocksDB takes
      // writes again, reload the projections from it; the new source re-reads from the stored
      // offsets.
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      Status healed = store_->Resume();
      if (healed.ok()) healed = projector_->Open(source_name(), NowUs());
      if (!healed.ok()) {
        SetState(false, Status(Code::kStorageError, healed.ToString()).ToString());
        continue;
      }
      spdlog::info("projector: projections reloaded; resuming from the stored offsets");
      reopen = false;
    }
    if (!source) {
      Result<std::unique_ptr<Source>> made = MakeSource();
      if (!made) {
        SetState(false, made.error().ToString());
        std::this_thread::sleep_for(backoff);
        continue;
      }
      source = std::move(made.value());
      sources_made_.fetch_add(1, std::memory_order_relaxed);
    }
    KeepDeadLetters();
    Result<size_t> n = projector_->RunBatch(*source);
    if (n) {
      Result<bool> dropped = DropUnfollowed(*source);
      if (!dropped) {
        n = std::move(dropped).error();
      } else if (dropped.value()) {
        // The group may have handed the partition back while it was being dropped, and the
        // source started it from the offset stored before: a new source asks every start
        // offset again (the dropped partition's is now the log's earliest). A static member
        // rejoins with its assignment as it was.
        source.reset();
        ReleaseOwnership();
        continue;
      }
    }
    if (n) {
      // An idle log: caught up if the broker answers. Otherwise by what is left of the log. And
      // only once the end of every partition read is known (an unknown one may hide a backlog).
      const bool idle = n.value() == 0;
      const std::string broker_error = idle ? ProbeBroker(*source) : "";
      SetState(projector_->LogEndsKnown() &&
                   (idle ? broker_error.empty()
                         : projector_->EngineFreshness().lag_messages <= options_.ready_lag_messages),
               broker_error);
      backoff = std::chrono::milliseconds(100);
      continue;
    }
    const Status& error = n.error();
    spdlog::warn("projector: {}", error.ToString());
    if (projector_->broken()) {
      // The commit failed: on the store (a storage fault) or before it, on the dead-letter
      // queue (the broker away, a producer failed for good).
      SetState(false, error.code() == Code::kIoError
                          ? Status(Code::kStorageError, error.ToString()).ToString()
                          : error.ToString());
      source.reset();
      ReleaseOwnership();
      reopen = true;
      continue;
    }
    SetState(false, error.ToString());
    const bool refused =
        error.code() == Code::kKafkaSessionRefused && session_timeout_ms_ < kMaxSessionMs;
    const bool fatal = error.code() == Code::kKafkaFatal;
    if (refused) {
      // A broker with a higher group.min.session.timeout.ms (Kafka's default is 6000): a longer
      // session joins, at the cost of slower handovers. Lowering the broker's minimum is better.
      session_timeout_ms_ = std::min(session_timeout_ms_ * 2, kMaxSessionMs);
      spdlog::warn("projector: the broker refuses a {} ms group session (its "
                   "group.min.session.timeout.ms is higher): trying {} ms; a dead member's "
                   "partitions move after that long. Lower the broker's minimum to keep "
                   "--session-timeout-ms", session_timeout_ms_ / 2, session_timeout_ms_);
    } else if (fatal) {
      // The consumer can't go on (e.g. fenced by its own static membership after the broker was
      // away longer than its session).
      spdlog::warn("projector: a new Kafka consumer resumes from the stored offsets");
      consumers_replaced_.fetch_add(1, std::memory_order_relaxed);
    }
    if (refused || fatal) {  // a new consumer resumes from the stored offsets
      (void)projector_->Drain(nullptr);  // a failed write is seen by the next RunBatch()
      source.reset();
      ReleaseOwnership();
      if (refused) continue;  // asks again at once, with the longer session
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
  // The last batch may still be being written: it lands before Stop() returns.
  if (Status s = projector_->Drain(source.get()); !s.ok()) spdlog::warn("projector: {}", s.ToString());
}

std::string Pipeline::instance_id() const {
  return options_.instance_id.empty() ? instance_id_ : options_.instance_id;
}

Status Pipeline::LoadInstanceId() {
  rocksdb::DB* db = store_->db();
  rocksdb::Status s = db->Get({}, store_->cfs()[Cf::kMeta], kInstanceKey, &instance_id_);
  if (s.ok()) return Status::Ok();
  if (!s.IsNotFound()) return Status(Code::kIoError, s.ToString());
  // At random, not from the data dir's path: containers on several hosts often mount theirs at
  // one path, and one id fences the other's consumer.
  instance_id_ = "keymeter-" + RandomKeyChars(16);
  rocksdb::WriteBatch batch;
  batch.Put(store_->cfs()[Cf::kMeta], kInstanceKey, instance_id_).PermitUncheckedError();
  return store_->Write(&batch);
}

void Pipeline::ReleaseOwnership() {
  std::lock_guard lock(mu_);
  if (!owned_.empty()) ++ownership_version_;
  owned_.clear();
}

std::vector<int32_t> Pipeline::OwnedPartitions() const {
  if (!kafka_mode()) {
    std::vector<int32_t> all(size_t(std::max(options_.embedded_partitions, 0)));
    for (size_t p = 0; p < all.size(); ++p) all[p] = int32_t(p);
    return all;
  }
  std::lock_guard lock(mu_);
  return {owned_.begin(), owned_.end()};
}

void Pipeline::SetStandbyPolicy(std::function<std::vector<int32_t>()> policy) {
  std::lock_guard lock(mu_);
  standby_policy_ = std::move(policy);
}

void Pipeline::SetDropPolicy(std::function<bool(int32_t)> policy) {
  std::lock_guard lock(mu_);
  drop_policy_ = std::move(policy);
}

bool Pipeline::Owns(int32_t partition) const {
  if (!kafka_mode()) return partition >= 0 && partition < options_.embedded_partitions;
  std::lock_guard lock(mu_);
  return owned_.contains(partition);
}

uint64_t Pipeline::ownership_version() const {
  std::lock_guard lock(mu_);
  return ownership_version_;
}

Pipeline::KafkaClientsReplaced Pipeline::kafka_clients_replaced() const {
  KafkaClientsReplaced replaced{.consumers = consumers_replaced_.load(std::memory_order_relaxed)};
  if (producer_ != nullptr) replaced.producers += producer_->renewals();
  replaced.producers += dead_letters_->producer_renewals();
  return replaced;
}

std::string Pipeline::ProbeBroker(Source& source) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_probe_ < kBrokerProbeInterval) return probe_error_;
  last_probe_ = now;
  const Status answered = source.ProbeLog(kBrokerProbeTimeout);
  probe_error_ =
      answered.ok() ? "" : Status(Code::kKafkaUnreachable, answered.ToString()).ToString();
  if (!answered.ok()) spdlog::warn("projector: {}", probe_error_);
  return probe_error_;
}

void Pipeline::SetState(bool caught_up, std::string error) {
  std::lock_guard lock(mu_);
  caught_up_ = caught_up;
  error_ = std::move(error);
}

std::pair<bool, std::string> Pipeline::Readiness() const {
  if (options_.read_only) return {true, "read-only"};
  std::lock_guard lock(mu_);
  if (!error_.empty()) return {false, error_};
  // A commit waits for the dead-letter queue while the broker is away (up to the flush timeout):
  // say so rather than "catching up".
  if (const auto waiting = dead_letters_ != nullptr ? dead_letters_->FlushWaiting()
                                                    : std::chrono::milliseconds(0);
      waiting >= std::chrono::seconds(2)) {
    return {false, Status(Code::kKafkaUnreachable,
                          "the commit has waited " + std::to_string(waiting.count() / 1000) +
                              " s for the broker to take the dead letters")
                       .ToString()};
  }
  if (!caught_up_) return {false, "catching up with the log"};
  return {true, "caught up"};
}

Status Pipeline::Publish(std::span<const uint8_t> envelope, std::string_view account_id) {
  if (options_.read_only)
    return Status(Code::kLogReadOnly, "this keymeter serves a read-only store");
  if (!kafka_mode()) {
    Result<int64_t> offset = log_->Append(envelope, account_id);
    return offset ? Status::Ok() : offset.error();
  }
  if (Status s = producer_->Produce(options_.topic, account_id, envelope); !s.ok()) return s;
  return producer_->Flush(std::chrono::seconds(10));
}

Status Pipeline::PublishMany(
    std::span<const std::pair<std::string, std::string>> envelopes_and_accounts) {
  if (options_.read_only)
    return Status(Code::kLogReadOnly, "this keymeter serves a read-only store");
  if (!kafka_mode()) {
    std::vector<LogEntry> entries;
    entries.reserve(envelopes_and_accounts.size());
    for (const auto& [envelope, account] : envelopes_and_accounts) {
      entries.push_back({std::span(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()),
                         account});
    }
    Result<std::vector<LogPosition>> appended = log_->AppendBatch(entries);
    return appended ? Status::Ok() : appended.error();
  }
  for (const auto& [envelope, account] : envelopes_and_accounts) {
    Status s = producer_->Produce(
        options_.topic, account,
        std::span(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()));
    if (!s.ok()) return s;
  }
  return producer_->Flush(std::chrono::seconds(10));
}

void Pipeline::RecordOutcome(const std::string& command_id, const Status& outcome) {
  {
    std::lock_guard lock(mu_);
    if (outcomes_.insert_or_assign(command_id, outcome).second) outcome_order_.push_back(command_id);
    while (outcome_order_.size() > options_.remembered_outcomes) {
      outcomes_.erase(outcome_order_.front());
      outcome_order_.pop_front();
    }
  }
  outcome_cv_.notify_all();
}

std::optional<Status> Pipeline::AwaitOutcome(const std::string& command_id,
                                             std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::optional<Status> found;
  outcome_cv_.wait_for(lock, timeout, [&] {
    auto it = outcomes_.find(command_id);
    if (it != outcomes_.end()) found = it->second;
    return found.has_value();
  });
  return found;
}

}  // namespace keymeter
