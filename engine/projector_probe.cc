#include "engine/projector_probe.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>


namespace keymeter {

ProjectorProbe::ProjectorProbe(Metrics& metrics)
    : applied_(prometheus::BuildCounter()
                   .Name("keymeter_events_applied_total")
                   .Help("Envelopes applied by the projector, by op")
                   .Register(metrics.registry())),
      dead_letters_(prometheus::BuildCounter()
                        .Name("keymeter_dead_letters_total")
                        .Help("Messages sent to the dead-letter queue, by reason")
                        .Register(metrics.registry())),
      next_offset_(prometheus::BuildGauge()
                       .Name("keymeter_partition_next_offset")
                       .Help("Next offset to read per partition, as committed")
                       .Register(metrics.registry())),
      watermark_(prometheus::BuildGauge()
                     .Name("keymeter_partition_watermark_seconds")
                     .Help("Latest accepted event time per partition (Unix seconds)")
                     .Register(metrics.registry())),
      log_end_(prometheus::BuildGauge()
                   .Name("keymeter_partition_log_end_offset")
                   .Help("End of the log per partition (next offset to be written), as the source "
                         "last saw it: Kafka's high watermark of the last fetch, or the embedded "
                         "log's end")
                   .Register(metrics.registry())),
      lag_(prometheus::BuildGauge()
               .Name("keymeter_partition_lag_messages")
               .Help("Messages per partition not yet applied and committed: log end offset minus "
                     "the committed next offset")
               .Register(metrics.registry())),
      memory_(prometheus::BuildGauge()
                  .Name("keymeter_memory_bytes")
                  .Help("Memory by part: the process's resident set and heap in use, and the "
                        "bounded parts within them (dedupe windows; RocksDB's block cache, "
                        "memtables and table readers)")
                  .Register(metrics.registry())) {
  duplicates_ = &prometheus::BuildCounter()
                     .Name("keymeter_duplicates_dropped_total")
                     .Help("Request events dropped as retries within the dedupe window")
                     .Register(metrics.registry())
                     .Add({});
  retried_ = &prometheus::BuildCounter()
                  .Name("keymeter_commands_retried_total")
                  .Help("Commands sent again under their Idempotency-Key: answered with the "
                        "first outcome (or IDEMPOTENCY-KEY-REUSED), not applied again")
                  .Register(metrics.registry())
                  .Add({});
  auto& alerts = prometheus::BuildCounter()
                     .Name("keymeter_alerts_total")
                     .Help("Threshold alerts the projector raised, by kind (crossed, resolved)")
                     .Register(metrics.registry());
  alerts_crossed_ = &alerts.Add({{"kind", "crossed"}});
  alerts_resolved_ = &alerts.Add({{"kind", "resolved"}});
  auto& attempts = prometheus::BuildCounter()
                       .Name("keymeter_webhook_attempts_total")
                       .Help("Webhook delivery attempts recorded, by outcome (delivered, retried, "
                             "failed: given up)")
                       .Register(metrics.registry());
  const char* outcomes[3] = {"delivered", "retried", "failed"};
  for (int i = 0; i < 3; ++i) webhook_attempts_[i] = &attempts.Add({{"outcome", outcomes[i]}});
  batch_size_ = &prometheus::BuildHistogram()
                     .Name("keymeter_batch_messages")
                     .Help("Messages per committed batch")
                     .Register(metrics.registry())
                     .Add({}, prometheus::Histogram::BucketBoundaries{
                                  1, 10, 100, 1'000, 10'000, 100'000, 1'000'000});
  commit_seconds_ = &prometheus::BuildHistogram()
                         .Name("keymeter_batch_commit_seconds")
                         .Help("Time to commit one batch (RocksDB write and DLQ flush)")
                         .Register(metrics.registry())
                         .Add({}, prometheus::Histogram::BucketBoundaries{
                                      0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
  engine_watermark_ = &prometheus::BuildGauge()
                           .Name("keymeter_watermark_seconds")
                           .Help("Minimum over partitions of the latest accepted event time")
                           .Register(metrics.registry())
                           .Add({});
  live_bytes_ = &prometheus::BuildGauge()
                     .Name("keymeter_rocksdb_live_data_bytes")
                     .Help("RocksDB's estimate of live data size")
                     .Register(metrics.registry())
                     .Add({});
  dedupe_entries_ = &prometheus::BuildGauge()
                         .Name("keymeter_dedupe_entries")
                         .Help("Request ids held by the dedupe windows, over partitions")
                         .Register(metrics.registry())
                         .Add({});
  auto& replaced = prometheus::BuildCounter()
                       .Name("keymeter_kafka_clients_replaced_total")
                       .Help("Kafka clients that failed for good (KAFKA-FATAL) and were replaced")
                       .Register(metrics.registry());
  consumers_replaced_ = &replaced.Add({{"client", "consumer"}});
  producers_replaced_ = &replaced.Add({{"client", "producer"}});
  partitions_dropped_ = &prometheus::BuildCounter()
                             .Name("keymeter_partitions_dropped_total")
                             .Help("Partitions whose rows this member gave back: followed by "
                                   "none of its consumers for KEYMETER_DROP_PARTITION_AFTER_SECONDS")
                             .Register(metrics.registry())
                             .Add({});
  rewound_ = &prometheus::BuildCounter()
                  .Name("keymeter_source_rewound_messages_total")
                  .Help("Messages the source dropped because their partition's next offset was "
                        "past them already: a client that fetched again from an older offset")
                  .Register(metrics.registry())
                  .Add({});
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(metrics.registry()).Add({});
  };
  buffered_messages_ = gauge("keymeter_source_buffered_messages",
                             "Messages the source fetched ahead of the projector (bounded)");
  buffered_bytes_ = gauge("keymeter_source_buffered_bytes",
                          "Bytes the source holds fetched ahead of the projector (bounded)");
  buffer_full_ = gauge("keymeter_source_buffer_full",
                       "1 while the read-ahead buffer is at its bound and the source takes no "
                       "more from Kafka: the projector or the store is slower than the log "
                       "(back-pressure)");
  auto& phases = prometheus::BuildCounter()
                     .Name("keymeter_projector_seconds_total")
                     .Help("Where the projector thread's time went: waiting for the source "
                           "(poll), applying (apply), waiting for the previous batch's write "
                           "(write_wait)")
                     .Register(metrics.registry());
  poll_seconds_ = &phases.Add({{"phase", "poll"}});
  apply_seconds_ = &phases.Add({{"phase", "apply"}});
  write_wait_seconds_ = &phases.Add({{"phase", "write_wait"}});
}

ProjectorProbe::~ProjectorProbe() = default;

void ProjectorProbe::SourceBuffered(const SourceBuffer& buffer) {
  buffered_messages_->Set(double(buffer.messages));
  buffered_bytes_->Set(double(buffer.bytes));
  buffer_full_->Set(buffer.full ? 1 : 0);
  // A renewed source counts from 0 again.
  if (buffer.rewound < rewound_seen_) rewound_seen_ = 0;
  rewound_->Increment(double(buffer.rewound - rewound_seen_));
  rewound_seen_ = buffer.rewound;
}

void ProjectorProbe::BatchCommitted(const ProjectorStats& stats) {
  std::lock_guard lock(mu_);
  for (const auto& [op, n] : stats.ops_applied) {
    applied_.Add({{"op", op}}).Increment(double(n - applied_seen_[op]));
    applied_seen_[op] = n;
  }
  applied_.Add({{"op", "RequestEvent"}}).Increment(double(stats.requests_applied - requests_seen_));
  requests_seen_ = stats.requests_applied;
  for (const auto& [reason, n] : stats.dead_letters) {
    dead_letters_.Add({{"reason", reason}}).Increment(double(n - dead_letters_seen_[reason]));
    dead_letters_seen_[reason] = n;
  }
  auto add_time = [](prometheus::Counter* c, std::chrono::microseconds now,
                     std::chrono::microseconds& seen) {
    c->Increment(double((now - seen).count()) / 1e6);
    seen = now;
  };
  add_time(poll_seconds_, stats.poll_time, time_seen_.poll_time);
  add_time(apply_seconds_, stats.apply_time, time_seen_.apply_time);
  add_time(write_wait_seconds_, stats.write_wait_time, time_seen_.write_wait_time);
  duplicates_->Increment(double(stats.duplicates - duplicates_seen_));
  duplicates_seen_ = stats.duplicates;
  retried_->Increment(double(stats.commands_retried - retried_seen_));
  retried_seen_ = stats.commands_retried;
  alerts_crossed_->Increment(double(stats.alerts_crossed - crossed_seen_));
  crossed_seen_ = stats.alerts_crossed;
  alerts_resolved_->Increment(double(stats.alerts_resolved - resolved_seen_));
  resolved_seen_ = stats.alerts_resolved;
  for (int i = 0; i < 3; ++i) {
    webhook_attempts_[i]->Increment(double(stats.webhook_attempts[i] - webhook_seen_[i]));
    webhook_seen_[i] = stats.webhook_attempts[i];
  }
  batch_size_->Observe(double(stats.last_batch_size));
  commit_seconds_->Observe(double(stats.last_commit_latency.count()) / 1e6);
  dedupe_entries_->Set(double(stats.dedupe_entries));
  memory_.Add({{"part", "dedupe"}}).Set(double(stats.dedupe_bytes));
}

void ProjectorProbe::PartitionsHeld(const std::map<int32_t, PartitionRecord>& parts) {
  std::lock_guard lock(mu_);
  PublishPartitions(parts);
}

void ProjectorProbe::PublishPartitions(const std::map<int32_t, PartitionRecord>& parts) {
  double min_watermark = 0;
  for (int32_t p : published_) {  // dropped since (a cluster member gave the partition back)
    if (parts.contains(p)) continue;
    const std::map<std::string, std::string> labels = {{"partition", std::to_string(p)}};
    next_offset_.Remove(&next_offset_.Add(labels));
    watermark_.Remove(&watermark_.Add(labels));
  }
  published_.clear();
  for (const auto& [p, r] : parts) {
    const std::map<std::string, std::string> labels = {{"partition", std::to_string(p)}};
    next_offset_.Add(labels).Set(double(r.next_offset));
    const double w = double(r.watermark_us) / 1e6;
    watermark_.Add(labels).Set(w);
    if (r.watermark_us > 0) min_watermark = min_watermark == 0 ? w : std::min(min_watermark, w);
    published_.push_back(p);
  }
  engine_watermark_->Set(min_watermark);
}

std::map<int32_t, int64_t> ProjectorProbe::Lags() {
  std::lock_guard lock(mu_);
  std::map<int32_t, int64_t> out;
  for (const auto& [p, gauges] : lag_gauges_) out[p] = int64_t(gauges.second->Value());
  return out;
}

void ProjectorProbe::LogEnds(const std::vector<PartitionOffset>& ends,
                             const std::map<int32_t, PartitionRecord>& parts) {
  std::lock_guard lock(mu_);
  std::map<int32_t, std::pair<prometheus::Gauge*, prometheus::Gauge*>> kept;
  for (const PartitionOffset& end : ends) {
    auto it = lag_gauges_.find(end.partition);
    std::pair<prometheus::Gauge*, prometheus::Gauge*> gauges;
    if (it != lag_gauges_.end()) {
      gauges = it->second;
      lag_gauges_.erase(it);
    } else {
      const std::map<std::string, std::string> labels = {
          {"partition", std::to_string(end.partition)}};
      gauges = {&log_end_.Add(labels), &lag_.Add(labels)};
    }
    auto part = parts.find(end.partition);
    const int64_t next = part == parts.end() ? 0 : part->second.next_offset;
    gauges.first->Set(double(end.next_offset));
    gauges.second->Set(double(std::max<int64_t>(0, end.next_offset - next)));
    kept.emplace(end.partition, gauges);
  }
  for (const auto& [p, gauges] : lag_gauges_) {  // no longer reported: revoked
    log_end_.Remove(gauges.first);
    lag_.Remove(gauges.second);
  }
  lag_gauges_ = std::move(kept);
}

void ProjectorProbe::LiveDataBytes(uint64_t bytes) { live_bytes_->Set(double(bytes)); }

void ProjectorProbe::PartitionsDropped(uint64_t total) {
  std::lock_guard lock(mu_);
  if (total > partitions_dropped_->Value()) {
    partitions_dropped_->Increment(double(total) - partitions_dropped_->Value());
  }
}

void ProjectorProbe::KafkaClientsReplaced(uint64_t consumers, uint64_t producers) {
  std::lock_guard lock(mu_);  // two scrapes at once: each adds only what the other has not
  if (consumers > consumers_replaced_->Value()) {
    consumers_replaced_->Increment(double(consumers) - consumers_replaced_->Value());
  }
  if (producers > producers_replaced_->Value()) {
    producers_replaced_->Increment(double(producers) - producers_replaced_->Value());
  }
}

void ProjectorProbe::MemoryBytes(const std::string& part, uint64_t bytes) {
  memory_.Add({{"part", part}}).Set(double(bytes));
}

}  // namespace keymeter
