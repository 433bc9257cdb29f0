#include "consumers/kafka_source.h"

#include <algorithm>

namespace keymeter {
namespace {

size_t SizeOf(const KafkaMessage& m) {
  return m.payload().size() + m.key().size() + kMessageOverheadBytes;
}

}  // namespace

Result<std::unique_ptr<KafkaSource>> KafkaSource::Create(KafkaSourceOptions options) {
  auto source = std::make_unique<KafkaSource>(PrivateTag(), std::move(options));
  const KafkaSourceOptions& o = source->options_;
  KafkaConsumerOptions consumer;
  consumer.brokers = o.brokers;
  consumer.group_id = o.group_id;
  consumer.topics = {o.topic};
  consumer.client_id = o.client_id;
  consumer.auto_offset_reset = "earliest";
  KafkaSource* self = source.get();
  consumer.start_offset = [self](std::string_view, int32_t p) -> std::optional<int64_t> {
    std::optional<int64_t> stored;
    if (self->options_.stored_offset) stored = self->options_.stored_offset(p);
    return stored.value_or(kKafkaOffsetBeginning);
  };
  consumer.on_assigned = [self](std::string_view, int32_t p) { self->OnAssigned(p); };
  consumer.on_revoked = [self](std::string_view, int32_t p) { self->OnRevoked(p); };
  // Bounds of librdkafka's prefetch (see the header). A short fetch wait lets a resumed
  // partition fetch again soon: the broker answers a fetch at once when it has data anyway.
  consumer.extra = {
      {"queued.max.messages.kbytes", "32768"},
      {"fetch.max.bytes", "8388608"},
      {"max.partition.fetch.bytes", "1048576"},
      {"fetch.wait.max.ms", "100"},
  };
  consumer.extra.insert(consumer.extra.end(), o.extra.begin(), o.extra.end());
  auto created = KafkaConsumer::Create(consumer);
  if (!created) return created.error();
  source->consumer_ = std::move(created).value();
  if (o.standby_partitions) {
    KafkaConsumerOptions standby = consumer;
    standby.group_id = o.group_id + ".standby";  // never joined
    standby.manual = true;
    standby.start_offset = nullptr;
    standby.on_assigned = nullptr;
    standby.on_revoked = nullptr;
    // Not group.instance.id: a second member with the same one would fence the first.
    std::erase_if(standby.extra, [](const auto& kv) { return kv.first == "group.instance.id"; });
    auto tail = KafkaConsumer::Create(standby);
    if (!tail) return tail.error();
    source->standby_consumer_ = std::move(tail).value();
  }
  return source;
}

KafkaSource::KafkaSource(PrivateTag, KafkaSourceOptions options) : options_(std::move(options)) {}

KafkaSource::~KafkaSource() {
  (void)Close();
  consumer_.reset();
  standby_consumer_.reset();
}

Status KafkaSource::Close() {
  if (consumer_ == nullptr) return Status::Ok();
  Status status = consumer_->Close();
  if (standby_consumer_ != nullptr) (void)standby_consumer_->Close();
  standby_.clear();
  // librdkafka's handle can't be destroyed while messages of it are alive.
  taken_.clear();
  pending_.clear();
  incoming_.clear();
  buffered_messages_ = 0;
  buffered_bytes_ = 0;
  return status;
}

Result<std::vector<PartitionBounds>> KafkaSource::QueryBounds(std::chrono::milliseconds timeout) {
  if (consumer_ == nullptr) return Status(Code::kKafkaClosed, "query after close");
  return consumer_->QueryBounds(options_.topic, timeout);
}

Status KafkaSource::ProbeLog(std::chrono::milliseconds timeout) {
  if (consumer_ == nullptr) return Status(Code::kKafkaClosed, "query after close");
  // Metadata only: a watermark query may outlive its timeout (KafkaConsumer::QueryBounds).
  Result<std::vector<int32_t>> partitions = consumer_->QueryPartitions(options_.topic, timeout);
  return partitions ? Status::Ok() : partitions.error();
}

Result<std::vector<TopicPartitionOffset>> KafkaSource::OffsetsForTime(
    const std::vector<int32_t>& partitions, int64_t time_ms, std::chrono::milliseconds timeout) {
  if (consumer_ == nullptr) return Status(Code::kKafkaClosed, "query after close");
  return consumer_->OffsetsForTime(options_.topic, partitions, time_ms, timeout);
}

void KafkaSource::OnAssigned(int32_t partition) {
  if (standby_.erase(partition) > 0) {
    // From standby to owner: the group's consumer goes on from the stored offset.
    (void)standby_consumer_->Unassign(options_.topic, {partition});
    DropBuffered(partition);
  }
  assigned_.insert(partition);
  if (options_.on_ownership) options_.on_ownership(partition, true);
}

std::optional<std::vector<int32_t>> KafkaSource::Followed() const {
  std::vector<int32_t> out(assigned_.begin(), assigned_.end());
  out.insert(out.end(), standby_.begin(), standby_.end());
  return out;
}

std::vector<PartitionOffset> KafkaSource::LogEnds() const {
  std::vector<PartitionOffset> ends;
  if (!consumer_) return ends;
  for (int32_t p : assigned_) {
    if (std::optional<int64_t> high = consumer_->CachedHighWatermark(options_.topic, p)) {
      ends.push_back({p, *high});
    }
  }
  for (int32_t p : standby_) {
    if (std::optional<int64_t> high = standby_consumer_->CachedHighWatermark(options_.topic, p)) {
      ends.push_back({p, *high});
    }
  }
  return ends;
}

void KafkaSource::OnRevoked(int32_t partition) {
  assigned_.erase(partition);
  if (options_.on_ownership) options_.on_ownership(partition, false);
  if (paused_.erase(partition) > 0) {
    // librdkafka keeps a pause across reassignment; resume before the partition goes.
    (void)consumer_->Resume(options_.topic, {partition});
  }
  DropBuffered(partition);
}

void KafkaSource::DropBuffered(int32_t partition) {
  auto it = pending_.find(partition);
  if (it != pending_.end()) {
    for (const KafkaMessage& m : it->second) buffered_bytes_ -= SizeOf(m);
    buffered_messages_ -= it->second.size();
    pending_.erase(it);
  }
  // Messages of this partition fetched earlier in the same KafkaConsumer::Poll(): the new
  // assignment starts again from the stored offset, so keeping them would duplicate them.
  std::erase_if(incoming_, [&](const KafkaMessage& m) { return m.partition() == partition; });
}

void KafkaSource::SyncStandbys() {
  if (standby_consumer_ == nullptr) return;
  std::set<int32_t> wanted;
  for (int32_t p : options_.standby_partitions()) {
    if (!assigned_.contains(p)) wanted.insert(p);
  }
  std::vector<int32_t> gone;
  for (int32_t p : standby_) {
    if (!wanted.contains(p)) gone.push_back(p);
  }
  if (!gone.empty() && standby_consumer_->Unassign(options_.topic, gone).ok()) {
    for (int32_t p : gone) {
      standby_.erase(p);
      DropBuffered(p);
    }
  }
  std::vector<TopicPartitionOffset> added;
  for (int32_t p : wanted) {
    if (standby_.contains(p)) continue;
    std::optional<int64_t> stored;
    if (options_.stored_offset) stored = options_.stored_offset(p);
    added.push_back({p, stored.value_or(kKafkaOffsetBeginning)});
  }
  if (!added.empty() && standby_consumer_->Assign(options_.topic, added).ok()) {
    for (const TopicPartitionOffset& o : added) standby_.insert(o.partition);
  }
}

Status KafkaSource::FillStandbys() {
  if (standby_consumer_ == nullptr || standby_.empty()) return Status::Ok();
  const size_t room = options_.max_buffered_messages > buffered_messages_
                          ? options_.max_buffered_messages - buffered_messages_
                          : 0;
  // A full buffer: leave them in librdkafka's bounded queue (no group: no poll deadline).
  if (room == 0 || buffered_bytes_ >= options_.max_buffered_bytes) return Status::Ok();
  incoming_.clear();
  Result<size_t> polled = standby_consumer_->Poll(incoming_, room, std::chrono::milliseconds(0));
  for (KafkaMessage& m : incoming_) {
    if (!standby_.contains(m.partition())) continue;  // no longer tailed
    buffered_bytes_ += SizeOf(m);
    ++buffered_messages_;
    pending_[m.partition()].push_back(std::move(m));
  }
  incoming_.clear();
  return polled ? Status::Ok() : polled.error();
}

Status KafkaSource::Fill(std::chrono::milliseconds timeout) {
  const size_t room = options_.max_buffered_messages > buffered_messages_
                          ? options_.max_buffered_messages - buffered_messages_
                          : 0;
  if (room == 0 || buffered_bytes_ >= options_.max_buffered_bytes) return Status::Ok();
  incoming_.clear();
  Result<size_t> polled = consumer_->Poll(incoming_, room, timeout);
  for (KafkaMessage& m : incoming_) {
    if (assigned_.count(m.partition()) == 0) continue;  // revoked and not back
    buffered_bytes_ += SizeOf(m);
    ++buffered_messages_;
    pending_[m.partition()].push_back(std::move(m));
  }
  incoming_.clear();
  return polled ? Status::Ok() : polled.error();
}

void KafkaSource::TakeRoundRobin(size_t max) {
  std::vector<std::deque<KafkaMessage>*> queues;
  for (auto& [partition, queue] : pending_) {
    if (!queue.empty()) queues.push_back(&queue);
  }
  if (queues.empty()) return;
  std::rotate(queues.begin(), queues.begin() + static_cast<ptrdiff_t>(rotation_ % queues.size()),
              queues.end());
  ++rotation_;
  while (taken_.size() < max && buffered_messages_ > 0) {
    size_t nonempty = 0;
    for (auto* q : queues) nonempty += q->empty() ? 0 : 1;
    const size_t quota = std::max<size_t>(1, (max - taken_.size()) / nonempty);
    for (auto* q : queues) {
      for (size_t n = 0; n < quota && !q->empty() && taken_.size() < max; ++n) {
        buffered_bytes_ -= SizeOf(q->front());
        --buffered_messages_;
        taken_.push_back(std::move(q->front()));
        q->pop_front();
      }
    }
  }
}

void KafkaSource::Throttle() {
  const bool full = buffered_messages_ >= options_.max_buffered_messages ||
                    buffered_bytes_ >= options_.max_buffered_bytes;
  const bool drained = buffered_messages_ <= options_.max_buffered_messages / 2 &&
                       buffered_bytes_ <= options_.max_buffered_bytes / 2;
  if (full) {
    std::vector<int32_t> pause;
    for (int32_t p : assigned_) {
      if (paused_.count(p) == 0) pause.push_back(p);
    }
    if (!pause.empty() && consumer_->Pause(options_.topic, pause).ok()) {
      paused_.insert(pause.begin(), pause.end());
      ++pause_count_;
    }
  } else if (drained && !paused_.empty()) {
    const std::vector<int32_t> resume(paused_.begin(), paused_.end());
    if (consumer_->Resume(options_.topic, resume).ok()) paused_.clear();
  }
}

Result<size_t> KafkaSource::Poll(std::vector<SourceMessage>* out, size_t max,
                                 std::chrono::milliseconds timeout) {
  out->clear();
  arena_.Clear();
  if (!deferred_error_.ok()) return std::exchange(deferred_error_, Status::Ok());
  SyncStandbys();
  Status filled = Fill(buffered_messages_ == 0 && standby_.empty() ? timeout
                                                                   : std::chrono::milliseconds(0));
  if (filled.ok()) filled = FillStandbys();
  if (buffered_messages_ == 0 && !standby_.empty() && filled.ok()) {
    // Nothing anywhere: wait on the group's consumer (it serves the rebalances) a little.
    filled = Fill(std::min(timeout, std::chrono::milliseconds(50)));
  }
  if (!filled.ok()) {
    if (buffered_messages_ == 0) return filled;
    deferred_error_ = std::move(filled);
  }
  Throttle();
  TakeRoundRobin(max);
  Throttle();
  out->reserve(taken_.size());
  for (const KafkaMessage& m : taken_) {
    arena_.Add(m.payload());
    out->push_back({m.partition(), m.offset(), {}, m.timestamp_us()});
  }
  taken_.clear();
  for (size_t i = 0; i < out->size(); ++i) (*out)[i].payload = arena_[i];  // arena complete
  return out->size();
}

void KafkaSource::Committed(const std::vector<PartitionOffset>& next) {
  std::vector<TopicPartitionOffset> offsets;
  for (const PartitionOffset& p : next) {
    if (assigned_.count(p.partition) > 0) offsets.push_back({p.partition, p.next_offset});
  }
  (void)consumer_->CommitAsync(options_.topic, offsets);
}

}  // namespace keymeter
