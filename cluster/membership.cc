#include "cluster/membership.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "consumers/kafka_admin.h"
#include "consumers/kafka_consumer.h"
#include "consumers/kafka_producer.h"
#include "schemas/clock.h"
#include "schemas/thread_name.h"

namespace keymeter {
namespace {

int64_t NowMs() { return NowUs() / 1000; }

}  // namespace

Result<std::unique_ptr<Membership>> Membership::Start(MembershipOptions options) {
  if (options.brokers.empty()) return Status(Code::kKafkaConfig, "membership: no brokers given");
  if (!ValidMemberId(options.member_id)) {
    return Status(Code::kKafkaConfig, "membership: member id must be 1..200 of [A-Za-z0-9._-]");
  }
  if (!ValidMemberId(options.group)) {
    return Status(Code::kKafkaConfig, "membership: group must be 1..200 of [A-Za-z0-9._-]");
  }
  if (!ValidAdvertisedUrl(options.url)) {
    return Status(Code::kKafkaConfig,
                  "membership: the advertised URL must be http://HOST:PORT (--advertise)");
  }
  if (!options.self) return Status(Code::kKafkaConfig, "membership: no self state");
  // Compacted: the latest record of every member stays, the rest goes.
  Status made = EnsureTopic(options.brokers,
                            {.name = options.topic,
                             .partitions = 1,
                             .configs = {{"cleanup.policy", "compact"},
                                         {"segment.ms", "600000"},
                                         {"min.cleanable.dirty.ratio", "0.1"}}},
                            std::chrono::seconds(10));
  if (!made.ok()) return made;
  std::unique_ptr<Membership> m(new Membership(std::move(options)));
  const MembershipOptions& o = m->options_;
  Result<std::unique_ptr<KafkaProducer>> producer =
      KafkaProducer::Create({.brokers = o.brokers,
                             .client_id = "keymeter-members",
                             .linger = std::chrono::milliseconds(0)});
  if (!producer) return producer.error();
  m->producer_ = std::move(producer).value();
  Result<std::unique_ptr<KafkaConsumer>> consumer =
      KafkaConsumer::Create({.brokers = o.brokers,
                             .group_id = "keymeter-members-reader",  // never joined
                             .topics = {o.topic},
                             .client_id = "keymeter-members",
                             .assign_all = true});
  if (!consumer) return consumer.error();
  m->consumer_ = std::move(consumer).value();
  Result<std::vector<int32_t>> events =
      m->consumer_->QueryPartitions(o.events_topic, std::chrono::seconds(10));
  if (!events) return events.error();
  m->partitions_ = int32_t(events.value().size());
  m->self_ = {.member_id = o.member_id, .group = o.group, .url = o.url};
  m->thread_ = std::jthread([self = m.get()](std::stop_token stop) {
    SetThreadName("km-membership");
    self->Loop(stop);
  });
  return m;
}

Membership::Membership(MembershipOptions options) : options_(std::move(options)) {}

Membership::~Membership() { Stop(); }

void Membership::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  if (producer_ != nullptr) {
    Publish({}, /*leaving=*/true);
    (void)producer_->Flush(std::chrono::seconds(2));
  }
  if (consumer_ != nullptr) (void)consumer_->Close();
}

void Membership::Publish(const SelfState& state, bool leaving) {
  MemberRecord record;
  {
    std::lock_guard lock(mu_);
    if (state.owned != self_.owned || leaving != self_.leaving) self_.assigned_at_ms = NowMs();
    self_.owned = state.owned;
    self_.standby = state.standby;
    self_.lag = state.lag;
    self_.settled = state.settled && !leaving;
    self_.leaving = leaving;
    self_.heartbeat_ms = NowMs();
    record = self_;
  }
  const std::string json = EncodeMemberRecord(record);
  Status s =
      producer_->Produce(options_.topic, options_.member_id,
                         std::span(reinterpret_cast<const uint8_t*>(json.data()), json.size()));
  if (!s.ok()) spdlog::warn("membership: {}", s.ToString());
}

void Membership::Loop(std::stop_token stop) {
  std::vector<KafkaMessage> batch;
  auto last_publish = std::chrono::steady_clock::time_point{};
  std::vector<int32_t> last_owned;
  std::vector<int32_t> last_standby;
  bool last_settled = false;
  bool published = false;
  while (!stop.stop_requested()) {
    const SelfState state = options_.self();
    const auto now = std::chrono::steady_clock::now();
    if (!published || state.owned != last_owned || state.standby != last_standby ||
        state.settled != last_settled ||
        now - last_publish >= options_.heartbeat) {
      Publish(state, /*leaving=*/false);
      last_publish = now;
      last_owned = state.owned;
      last_standby = state.standby;
      last_settled = state.settled;
      published = true;
    }
    batch.clear();
    Result<size_t> polled = consumer_->Poll(batch, 1000, std::chrono::milliseconds(100));
    if (!polled) continue;  // the broker away: librdkafka reconnects; nothing to read meanwhile
    std::lock_guard lock(mu_);
    for (const KafkaMessage& m : batch) {
      const std::string id(m.key());
      if (id == options_.member_id) continue;  // this member knows itself better
      if (m.payload().empty()) {               // a tombstone: the operator removed the member
        peers_.erase(id);
        continue;
      }
      Result<MemberRecord> record = DecodeMemberRecord(
          std::string_view(reinterpret_cast<const char*>(m.payload().data()), m.payload().size()));
      if (!record || record.value().member_id != id) {
        invalid_records_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (record.value().group != options_.group) continue;  // another cluster's member
      peers_[id] = {std::move(record).value(), std::chrono::steady_clock::now()};
    }
  }
}

bool Membership::Live(const Heard& heard, std::chrono::steady_clock::time_point now,
                      int64_t now_ms) const {
  return !heard.record.leaving && now - heard.at < options_.expiry &&
         now_ms - heard.record.heartbeat_ms < options_.expiry.count();
}

std::vector<MemberView> Membership::Members() const {
  const auto now = std::chrono::steady_clock::now();
  const int64_t now_ms = NowMs();
  std::lock_guard lock(mu_);
  std::vector<MemberView> out;
  out.push_back({.record = self_, .self = true, .live = !self_.leaving});
  for (const auto& [id, heard] : peers_) {
    out.push_back(
        {.record = heard.record,
         .live = Live(heard, now, now_ms),
         .heard_ms_ago =
             std::chrono::duration_cast<std::chrono::milliseconds>(now - heard.at).count()});
  }
  return out;
}

std::optional<MemberRecord> Membership::PeerOwning(int32_t partition) const {
  const auto now = std::chrono::steady_clock::now();
  const int64_t now_ms = NowMs();
  std::lock_guard lock(mu_);
  const MemberRecord* best = nullptr;
  for (const auto& [id, heard] : peers_) {
    if (!Live(heard, now, now_ms)) continue;
    const MemberRecord& r = heard.record;
    if (!std::binary_search(r.owned.begin(), r.owned.end(), partition)) continue;
    if (best == nullptr || r.assigned_at_ms > best->assigned_at_ms) best = &r;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::optional<MemberRecord> Membership::LastClaimant(int32_t partition) const {
  std::lock_guard lock(mu_);
  const MemberRecord* best = nullptr;
  for (const auto& [id, heard] : peers_) {
    const MemberRecord& r = heard.record;
    if (r.leaving || !std::binary_search(r.owned.begin(), r.owned.end(), partition)) continue;
    if (best == nullptr || r.assigned_at_ms > best->assigned_at_ms) best = &r;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

MemberRecord Membership::Self() const {
  std::lock_guard lock(mu_);
  return self_;
}

std::vector<MemberRecord> Membership::LivePeers() const {
  const auto now = std::chrono::steady_clock::now();
  const int64_t now_ms = NowMs();
  std::lock_guard lock(mu_);
  std::vector<MemberRecord> out;
  for (const auto& [id, heard] : peers_) {
    if (Live(heard, now, now_ms)) out.push_back(heard.record);
  }
  return out;
}

}  // namespace keymeter
