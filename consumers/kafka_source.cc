#include "consumers/kafka_source.h"

#include <algorithm>
#include <cstdint>

#include "schemas/thread_name.h"

namespace keymeter {
namespace {

size_t SizeOf(const KafkaMessage& m) {
  return m.payload().size() + m.key().size() + kMessageOverheadBytes;
}

std::vector<int32_t> List(const std::set<int32_t>& partitions) {
  return {partitions.begin(), partitions.end()};
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
    return self->StartOffset(p).value_or(kKafkaOffsetBeginning);
  };
  consumer.on_assigned = [self](std::string_view, int32_t p) { self->OnAssigned(p); };
  consumer.on_revoked = [self](std::string_view, int32_t p) { self->OnRevoked(p); };
  // Bounds of librdkafka's prefetch and the fetch sizes (see the header). A short fetch wait
  // lets a throttled partition fetch again soon: the broker answers at once when it has data.
  consumer.extra = {
      {"queued.max.messages.kbytes", "65536"},
      {"fetch.max.bytes", "33554432"},
      {"max.partition.fetch.bytes", "8388608"},
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
  if (consumer_ == nullptr || closed_) return Status::Ok();
  closed_ = true;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  data_cv_.notify_all();
  room_cv_.notify_all();
  idle_cv_.notify_all();
  if (fetcher_.joinable()) fetcher_.join();
  Status status = consumer_->Close();  // revokes on this thread (OnRevoked)
  if (standby_consumer_ != nullptr) (void)standby_consumer_->Close();
  // librdkafka's handle can't be destroyed while messages of it are alive.
  taken_.clear();
  incoming_.clear();
  std::lock_guard lock(mu_);
  standby_.clear();
  next_fetch_.clear();
  pending_.clear();
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
  bool was_standby = false;
  {
    std::lock_guard lock(mu_);
    was_standby = standby_.erase(partition) > 0;
    DropBuffered(partition);
    assigned_.insert(partition);
  }
  // From standby to owner: the group's consumer goes on from the stored offset.
  if (was_standby) (void)standby_consumer_->Unassign(options_.topic, {partition});
  if (options_.on_ownership) options_.on_ownership(partition, true);
}

void KafkaSource::OnRevoked(int32_t partition) {
  {
    std::lock_guard lock(mu_);
    assigned_.erase(partition);
    DropBuffered(partition);
  }
  if (options_.on_ownership) options_.on_ownership(partition, false);
}

std::optional<int64_t> KafkaSource::StartOffset(int32_t partition) {
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return !holding_ || stopping_; });
    // Whatever Poll() takes from now on is not of `partition` (this thread is the one that
    // could fetch more of it), so its stored offset stays put until it is read from there.
    DropBuffered(partition);
  }
  std::optional<int64_t> start;
  if (options_.stored_offset) start = options_.stored_offset(partition);
  std::lock_guard lock(mu_);
  if (start.has_value()) {
    next_fetch_[partition] = *start;
  } else {
    next_fetch_.erase(partition);
  }
  return start;
}

std::optional<std::vector<int32_t>> KafkaSource::Followed() const {
  std::lock_guard lock(mu_);
  std::vector<int32_t> out(assigned_.begin(), assigned_.end());
  out.insert(out.end(), standby_.begin(), standby_.end());
  return out;
}

LogEndsSeen KafkaSource::LogEnds() const {
  LogEndsSeen seen;
  if (!consumer_) return seen;
  const auto [assigned, standby] = Locked([&] { return std::pair(assigned_, standby_); });
  // librdkafka's cached watermarks may be read from any thread.
  for (const auto& [consumer, partitions] :
       {std::pair(consumer_.get(), &assigned), std::pair(standby_consumer_.get(), &standby)}) {
    for (int32_t p : *partitions) {
      const std::optional<int64_t> high = consumer->CachedHighWatermark(options_.topic, p);
      if (high) {
        seen.ends.push_back({p, *high});
      } else {
        seen.all_known = false;
      }
    }
  }
  return seen;
}

size_t KafkaSource::buffered_messages() const { return Locked([&] { return buffered_messages_; }); }
std::vector<int32_t> KafkaSource::assigned() const { return Locked([&] { return List(assigned_); }); }
std::vector<int32_t> KafkaSource::standbys() const { return Locked([&] { return List(standby_); }); }
SourceBuffer KafkaSource::Buffered() const {
  return Locked(
      [&] { return SourceBuffer{buffered_messages_, buffered_bytes_, Full(), rewound_}; });
}
uint64_t KafkaSource::full_count() const { return Locked([&] { return full_count_; }); }
uint64_t KafkaSource::rewound_count() const { return Locked([&] { return rewound_; }); }

void KafkaSource::DropBuffered(int32_t partition) {
  auto it = pending_.find(partition);
  if (it != pending_.end()) {
    for (const KafkaMessage& m : it->second) buffered_bytes_ -= SizeOf(m);
    buffered_messages_ -= it->second.size();
    pending_.erase(it);
  }
  // Messages of it fetched earlier in the same KafkaConsumer::Poll() would be duplicates: the
  // new assignment starts again from the stored offset (incoming_ is the fetch thread's).
  std::erase_if(incoming_, [&](const KafkaMessage& m) { return m.partition() == partition; });
}

void KafkaSource::SyncStandbys() {
  if (standby_consumer_ == nullptr) return;
  const std::vector<int32_t> asked = options_.standby_partitions();
  std::set<int32_t> wanted;
  std::vector<int32_t> gone;
  {
    std::lock_guard lock(mu_);
    for (int32_t p : asked) {
      if (!assigned_.contains(p)) wanted.insert(p);
    }
    for (int32_t p : standby_) {
      if (!wanted.contains(p)) gone.push_back(p);
    }
  }
  if (!gone.empty() && standby_consumer_->Unassign(options_.topic, gone).ok()) {
    std::lock_guard lock(mu_);
    for (int32_t p : gone) {
      standby_.erase(p);
      DropBuffered(p);
    }
  }
  std::vector<TopicPartitionOffset> added;
  for (int32_t p : wanted) {
    {
      std::lock_guard lock(mu_);
      if (standby_.contains(p)) continue;
    }
    added.push_back({p, StartOffset(p).value_or(kKafkaOffsetBeginning)});
  }
  if (!added.empty() && standby_consumer_->Assign(options_.topic, added).ok()) {
    std::lock_guard lock(mu_);
    for (const TopicPartitionOffset& o : added) standby_.insert(o.partition);
  }
}

bool KafkaSource::Full() const {
  return buffered_messages_ >= options_.max_buffered_messages ||
         buffered_bytes_ >= options_.max_buffered_bytes;
}

Status KafkaSource::Fill(KafkaConsumer& consumer, bool standby, std::chrono::milliseconds timeout) {
  size_t room = 0;
  {
    std::lock_guard lock(mu_);
    if (Full() || (standby && standby_.empty())) return Status::Ok();
    room = std::min(options_.max_buffered_messages - buffered_messages_, kFetchChunk);
  }
  incoming_.clear();
  // Rebalances run inside (OnAssigned, OnRevoked, StartOffset): mu_ is not held here.
  Result<size_t> polled = consumer.Poll(incoming_, room, timeout);
  if (!incoming_.empty()) {
    {
      std::lock_guard lock(mu_);
      for (KafkaMessage& m : incoming_) {
        // Revoked and not back, or no longer tailed.
        if (!(standby ? standby_ : assigned_).contains(m.partition())) continue;
        // Taken already in this assignment, or below its start: a rewind (see the header).
        auto next = next_fetch_.try_emplace(m.partition(), m.offset()).first;
        if (m.offset() < next->second) {
          ++rewound_;
          continue;
        }
        next->second = m.offset() + 1;
        buffered_bytes_ += SizeOf(m);
        ++buffered_messages_;
        pending_[m.partition()].push_back(std::move(m));
      }
    }
    data_cv_.notify_one();
  }
  incoming_.clear();
  return polled ? Status::Ok() : polled.error();
}

void KafkaSource::FetchLoop() {
  SetThreadName("km-fetch");
  constexpr auto kWait = std::chrono::milliseconds(100);
  while (true) {
    bool standbys = false;
    {
      std::unique_lock lock(mu_);
      // A full buffer: wait for Poll() to make room (rebalances wait with it, as they would
      // for a projector that polls between batches).
      if (Full()) ++full_count_;
      room_cv_.wait_for(lock, kWait, [&] { return stopping_ || !Full(); });
      if (stopping_) return;
      if (Full()) continue;
      standbys = !standby_.empty();
    }
    SyncStandbys();
    // With standbys, the group's consumer (which serves the rebalances) waits only briefly.
    Status status = Fill(*consumer_, false, standbys ? std::chrono::milliseconds(0) : kWait);
    if (status.ok() && standby_consumer_ != nullptr) {
      status = Fill(*standby_consumer_, true, std::chrono::milliseconds(0));
      bool idle = false;
      {
        std::lock_guard lock(mu_);
        idle = buffered_messages_ == 0 && !standby_.empty();
      }
      if (status.ok() && idle) status = Fill(*consumer_, false, std::chrono::milliseconds(50));
    }
    if (status.ok()) continue;
    {
      std::unique_lock lock(mu_);
      if (deferred_error_.ok()) deferred_error_ = std::move(status);
      data_cv_.notify_one();
      // librdkafka retries by itself; don't spin on an error it repeats.
      room_cv_.wait_for(lock, kWait, [&] { return stopping_; });
    }
  }
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

Result<size_t> KafkaSource::Poll(std::vector<SourceMessage>* out, size_t max,
                                 std::chrono::milliseconds timeout) {
  out->clear();
  arena_.Clear();
  taken_.clear();  // the caller is done with them
  if (closed_) return Status(Code::kKafkaClosed, "poll after close");
  if (!fetcher_.joinable()) fetcher_ = std::thread([this] { FetchLoop(); });
  {
    std::unique_lock lock(mu_);
    holding_ = false;
    idle_cv_.notify_all();
    data_cv_.wait_for(lock, timeout, [&] {
      return buffered_messages_ > 0 || !deferred_error_.ok() || stopping_;
    });
    if (!deferred_error_.ok()) return std::exchange(deferred_error_, Status::Ok());
    TakeRoundRobin(max);
    holding_ = !taken_.empty();
  }
  room_cv_.notify_one();
  out->reserve(taken_.size());
  copied_.clear();
  for (const KafkaMessage& m : taken_) {
    const std::span<const uint8_t> payload = m.payload();
    const bool aligned = reinterpret_cast<uintptr_t>(payload.data()) % 8 == 0;
    if (!aligned) {
      copied_.push_back(out->size());
      arena_.Add(payload);
    }
    out->push_back({m.partition(), m.offset(), payload, m.timestamp_us()});
  }
  // The arena is complete: its spans are stable now.
  for (size_t i = 0; i < copied_.size(); ++i) (*out)[copied_[i]].payload = arena_[i];
  return out->size();
}

void KafkaSource::Release() {
  {
    std::lock_guard lock(mu_);
    holding_ = false;
  }
  idle_cv_.notify_all();
}

void KafkaSource::Committed(const std::vector<PartitionOffset>& next) {
  std::vector<TopicPartitionOffset> offsets;
  {
    std::lock_guard lock(mu_);
    for (const PartitionOffset& p : next) {
      if (assigned_.contains(p.partition)) offsets.push_back({p.partition, p.next_offset});
    }
  }
  (void)consumer_->CommitAsync(options_.topic, offsets);  // librdkafka's commit is thread-safe
}

}  // namespace keymeter
