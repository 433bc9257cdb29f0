#include "cluster/cluster.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <map>

#include "consumers/embedded_log.h"
#include "engine/metrics.h"
#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "schemas/hex.h"
#include "schemas/text.h"

namespace keymeter {
namespace {

constexpr std::string_view kForwardedHeader = "X-Keymeter-Forwarded";
constexpr std::string_view kClientHeader = "X-Keymeter-Client";
constexpr std::string_view kStandbyReadHeader = "X-Keymeter-Standby-Read";

// Headers a proxy does not pass on (RFC 9110 §7.6.1), those the client library sets itself,
// and keymeter's own forwarding headers, which only a member may set.
bool Hop(std::string_view name) {
  for (std::string_view h : {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                             "transfer-encoding", "upgrade", "host", "content-length",
                             "content-type", "x-keymeter-forwarded", "x-keymeter-client",
                             "x-keymeter-standby-read"}) {
    if (EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

}  // namespace

struct Cluster::Pool {
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<http::Client>>> idle;  // GUARDED_BY(mu)
};

Result<std::unique_ptr<Cluster>> Cluster::Start(ClusterOptions options, Pipeline& pipeline,
                                                Metrics& metrics) {
  std::unique_ptr<Cluster> c(new Cluster(std::move(options), pipeline, metrics));
  MembershipOptions m = c->options_.membership;
  Cluster* self = c.get();
  m.self = [&pipeline, self, lags = c->options_.lags] {
    SelfState state{.owned = pipeline.OwnedPartitions()};
    if (self->started_.load(std::memory_order_acquire)) state.standby = self->ComputeStandbys();
    const std::map<int32_t, int64_t> all = lags ? lags() : std::map<int32_t, int64_t>();
    size_t owned_lags = 0;
    state.settled = true;
    for (const auto& [p, n] : all) {
      if (std::binary_search(state.owned.begin(), state.owned.end(), p)) {
        ++owned_lags;
        state.settled = state.settled && n <= kSettledLag;
      } else if (!std::binary_search(state.standby.begin(), state.standby.end(), p)) {
        continue;
      }
      state.lag[p] = n;
    }
    state.settled = state.settled && owned_lags == state.owned.size();
    // Joined: caught up with a partition of its own, or (more members than partitions) every
    // partition has a live owner to forward to.
    if (state.settled && !self->joined_.load(std::memory_order_relaxed) &&
        (!state.owned.empty() || (self->started_.load(std::memory_order_acquire) &&
                                  self->EveryPartitionOwned(state.owned)))) {
      self->joined_.store(true, std::memory_order_release);
    }
    std::vector<int32_t> serving;
    for (int32_t p : state.owned) {
      auto lag = state.lag.find(p);
      if (lag != state.lag.end() && lag->second <= kSettledLag) serving.push_back(p);
    }
    self->CountBeat(state, serving);
    std::lock_guard lock(self->serving_mu_);
    self->serving_ = std::move(serving);
    self->standby_ = state.standby;
    self->lag_ = state.lag;
    return state;
  };
  Result<std::unique_ptr<Membership>> membership = Membership::Start(std::move(m));
  if (!membership) return membership.error();
  c->membership_ = std::move(membership).value();
  c->started_.store(true, std::memory_order_release);
  pipeline.SetStandbyPolicy([self] { return self->StandbyPartitions(); });
  pipeline.SetDropPolicy([self](int32_t p) {
    return !self->Owns(p) && !self->StandsBy(p) && self->membership_->PeerOwning(p).has_value();
  });
  return c;
}

Cluster::Cluster(ClusterOptions options, Pipeline& pipeline, Metrics& metrics)
    : options_(std::move(options)), pipeline_(pipeline), pool_(std::make_unique<Pool>()) {
  if (options_.operator_token_hash) {
    std::string seed = "keymeter-cluster:";
    AppendHex(&seed, *options_.operator_token_hash);
    secret_ = ToHex(Sha256(seed));
  }
  auto& forwarded = prometheus::BuildCounter()
                        .Name("keymeter_cluster_forwarded_total")
                        .Help("Requests forwarded to the member owning their account, by outcome.")
                        .Register(metrics.registry());
  forwarded_ok_ = &forwarded.Add({{"outcome", "answered"}});
  forwarded_failed_ = &forwarded.Add({{"outcome", "unreachable"}});
  standby_answers_ = &prometheus::BuildCounter()
                          .Name("keymeter_cluster_standby_answers_total")
                          .Help("authorize answered from this member's copy: owner unreachable.")
                          .Register(metrics.registry())
                          .Add({});
  not_owner_ = &prometheus::BuildCounter()
                    .Name("keymeter_cluster_not_owner_total")
                    .Help("Forwarded requests refused 421 NOT-OWNER by this member.")
                    .Register(metrics.registry())
                    .Add({});
  auto& partitions = prometheus::BuildGauge()
                         .Name("keymeter_cluster_partitions")
                         .Help("Partitions this member owns, and tails as a standby.")
                         .Register(metrics.registry());
  owned_gauge_ = &partitions.Add({{"role", "owned"}});
  standby_gauge_ = &partitions.Add({{"role", "standby"}});
  live_members_gauge_ = &prometheus::BuildGauge()
                             .Name("keymeter_cluster_live_members")
                             .Help("Members this one hears from, itself included.")
                             .Register(metrics.registry())
                             .Add({});
  handovers_ = &prometheus::BuildCounter()
                    .Name("keymeter_cluster_handovers_total")
                    .Help("Partitions the group gave this member (at start, on rebalances).")
                    .Register(metrics.registry())
                    .Add({});
  handover_seconds_ = &prometheus::BuildHistogram()
                           .Name("keymeter_cluster_handover_seconds")
                           .Help("From a partition's assignment to this member caught up with it.")
                           .Register(metrics.registry())
                           .Add({}, prometheus::Histogram::BucketBoundaries{
                                        0.5, 1, 2, 5, 10, 30, 60, 300, 1800});
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
  forward_latency_ = &prometheus::BuildHistogram()
                          .Name("keymeter_cluster_forward_latency_seconds")
                          .Help("Round trip of a forwarded request to its owner.")
                          .Register(metrics.registry())
                          .Add({}, kBuckets);
}

Cluster::~Cluster() { Stop(); }

void Cluster::CountBeat(const SelfState& state, const std::vector<int32_t>& serving) {
  const auto now = std::chrono::steady_clock::now();
  for (int32_t p : state.owned) {
    if (std::ranges::binary_search(owned_at_last_beat_, p)) continue;
    handovers_->Increment();
    taking_over_[p] = now;
  }
  for (auto it = taking_over_.begin(); it != taking_over_.end();) {
    if (!std::ranges::binary_search(state.owned, it->first)) {
      it = taking_over_.erase(it);  // revoked before it caught up
    } else if (std::ranges::binary_search(serving, it->first)) {
      handover_seconds_->Observe(std::chrono::duration<double>(now - it->second).count());
      it = taking_over_.erase(it);
    } else {
      ++it;
    }
  }
  owned_at_last_beat_ = state.owned;
  owned_gauge_->Set(double(state.owned.size()));
  standby_gauge_->Set(double(state.standby.size()));
  if (started_.load(std::memory_order_acquire)) {
    live_members_gauge_->Set(double(membership_->LivePeers().size() + 1));
  }
}

void Cluster::Stop() {
  pipeline_.SetStandbyPolicy({});
  pipeline_.SetDropPolicy({});
  if (membership_ != nullptr) membership_->Stop();
}

std::vector<int32_t> Cluster::StandbyPartitions() const {
  std::lock_guard lock(serving_mu_);
  return standby_;
}

std::optional<int64_t> Cluster::LagOf(int32_t partition) const {
  std::lock_guard lock(serving_mu_);
  auto it = lag_.find(partition);
  if (it == lag_.end()) return std::nullopt;
  return it->second;
}

bool Cluster::StandsBy(int32_t partition) const {
  std::lock_guard lock(serving_mu_);
  return std::binary_search(standby_.begin(), standby_.end(), partition);
}

std::vector<int32_t> Cluster::ComputeStandbys() const {
  std::vector<std::string> ring = {member_id()};
  for (const MemberRecord& peer : membership_->LivePeers()) ring.push_back(peer.member_id);
  SortAsGroupMembers(ring);
  const size_t wanted = size_t(std::max(options_.standby_replicas, 0));
  std::vector<int32_t> out;
  const std::vector<int32_t> owned = pipeline_.OwnedPartitions();
  const int32_t partitions = membership_->partitions();
  for (int32_t p = 0; p < partitions; ++p) {
    if (wanted == 0 || std::binary_search(owned.begin(), owned.end(), p)) continue;
    // While an owner that died is not yet replaced, its standbys stay: they answer meanwhile.
    std::optional<MemberRecord> owner = membership_->PeerOwning(p);
    if (!owner) owner = membership_->LastClaimant(p);
    if (!owner) continue;
    if (std::ranges::count(StandbysOf(p, partitions, ring, owner->member_id, wanted),
                           member_id()) > 0) {
      out.push_back(p);
    }
  }
  return out;
}

namespace {

// The broker names a static member "<group.instance.id>-<uuid>" and the range assignor sorts
// by that name; comparing "<id>-" orders ids the same way whatever the uuids.
bool GroupOrder(const std::string& a, const std::string& b) { return a + '-' < b + '-'; }

}  // namespace

void SortAsGroupMembers(std::vector<std::string>& ids) { std::ranges::sort(ids, GroupOrder); }

size_t RangeAssignee(int32_t partition, int32_t partitions, size_t members) {
  // librdkafka's range assignor (rdkafka_range_assignor.c): member i of n takes the i-th
  // run of partitions/n, the first partitions%n members one more each.
  const size_t per = size_t(partitions) / members;
  const size_t extra = size_t(partitions) % members;
  const size_t p = size_t(partition);
  if (p < (per + 1) * extra) return p / (per + 1);
  return extra + (p - (per + 1) * extra) / per;
}

std::vector<std::string> StandbysOf(int32_t partition, int32_t partitions,
                                    const std::vector<std::string>& ring,
                                    const std::string& owner, size_t wanted) {
  std::vector<std::string> others;
  for (const std::string& id : ring) {
    if (id != owner) others.push_back(id);
  }
  std::vector<std::string> out;
  if (others.empty()) return out;
  // First the member the group will give the partition to when its owner dies, so that the
  // new owner goes on from a copy near the end instead of replaying the partition.
  out.push_back(others[RangeAssignee(partition, partitions, others.size())]);
  // Then the members after the owner in the ring (after its place, if it is gone).
  const size_t first = size_t(std::ranges::upper_bound(others, owner, GroupOrder) - others.begin());
  for (size_t j = 0; j < others.size() && out.size() < std::min(wanted, others.size()); ++j) {
    const std::string& id = others[(first + j) % others.size()];
    if (std::ranges::find(out, id) == out.end()) out.push_back(id);
  }
  out.resize(std::min(wanted, out.size()));
  return out;
}

int32_t Cluster::PartitionOf(std::string_view account_id) const {
  return KafkaPartitionFor(account_id, membership_->partitions());
}

bool Cluster::Owns(int32_t partition) const { return pipeline_.Owns(partition); }

bool Cluster::OwnsAny() const { return !pipeline_.OwnedPartitions().empty(); }

bool Cluster::EveryPartitionOwned(const std::vector<int32_t>& owned) const {
  for (int32_t p = 0; p < membership_->partitions(); ++p) {
    if (!std::binary_search(owned.begin(), owned.end(), p) && !membership_->PeerOwning(p)) {
      return false;
    }
  }
  return true;
}

bool Cluster::OwnsAll() const {
  return pipeline_.OwnedPartitions().size() == size_t(membership_->partitions());
}

bool Cluster::Serves(int32_t partition) const {
  if (!Owns(partition)) return false;  // revoked since the last beat
  std::lock_guard lock(serving_mu_);
  return std::binary_search(serving_.begin(), serving_.end(), partition);
}

bool Cluster::Settled() const {
  const MemberRecord self = membership_->Self();
  for (int32_t p = 0; p < membership_->partitions(); ++p) {
    if (std::binary_search(self.owned.begin(), self.owned.end(), p)) {
      if (!self.settled) return false;
    } else if (std::optional<MemberRecord> peer = membership_->PeerOwning(p)) {
      if (!peer->settled) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool Cluster::FromPeer(const http::Request& request) const {
  if (!secret_) return false;
  std::optional<std::string_view> given = request.Header(kForwardedHeader);
  if (!given || given->size() != secret_->size()) return false;
  return DigestEqual(Sha256(*given), Sha256(*secret_));  // constant time
}

std::unique_ptr<http::Client> Cluster::TakeClient(const std::string& base_url) {
  {
    std::lock_guard lock(pool_->mu);
    auto& idle = pool_->idle[base_url];
    if (!idle.empty()) {
      std::unique_ptr<http::Client> c = std::move(idle.back());
      idle.pop_back();
      return c;
    }
  }
  std::optional<std::pair<std::string, uint16_t>> hp = http::ParseHostPort(base_url);
  if (!hp) return nullptr;
  return std::make_unique<http::Client>(hp->first, hp->second, options_.forward_timeout);
}

void Cluster::GiveBack(const std::string& base_url, std::unique_ptr<http::Client> client) {
  std::lock_guard lock(pool_->mu);
  auto& idle = pool_->idle[base_url];
  if (idle.size() < options_.max_idle_per_peer) idle.push_back(std::move(client));
}

Result<http::ClientReply> Cluster::Send(const std::string& base_url, std::string_view method,
                                        std::string_view target, std::string_view body,
                                        std::string_view content_type,
                                        http::ClientHeaders headers) {
  if (!secret_) return Status(Code::kOwnerUnavailable, "forwarding needs the operator token");
  std::unique_ptr<http::Client> client = TakeClient(base_url);
  if (client == nullptr) return Status(Code::kHttpError, "bad member URL " + base_url);
  headers.emplace_back(std::string(kForwardedHeader), *secret_);
  const auto started = std::chrono::steady_clock::now();
  Result<http::ClientReply> reply = client->Send(method, target, "", body, content_type, headers);
  forward_latency_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!reply) {
    forwarded_failed_->Increment();
    return reply;
  }
  forwarded_ok_->Increment();
  GiveBack(base_url, std::move(client));
  return reply;
}

Result<http::ClientReply> Cluster::Forward(const std::string& base_url,
                                           const http::Request& request,
                                           std::string_view client_address, bool standby_read) {
  http::ClientHeaders headers;
  for (const auto& [name, value] : request.headers) {
    if (!Hop(name)) headers.emplace_back(std::string(name), std::string(value));
  }
  headers.emplace_back(std::string(kClientHeader), std::string(client_address));
  if (standby_read) headers.emplace_back(std::string(kStandbyReadHeader), "true");
  return Send(base_url, request.method, request.target, request.body,
              request.Header("Content-Type").value_or(""), std::move(headers));
}

bool Cluster::StandbyRead(const http::Request& request) {
  return request.Header(kStandbyReadHeader).value_or("") == "true";
}

Result<http::ClientReply> Cluster::Ask(const std::string& base_url, std::string_view target) {
  return Send(base_url, "GET", target, "", "", {});
}

std::optional<std::string> Cluster::CachedAccountOfKey(std::string_view key_id) const {
  std::lock_guard lock(keys_mu_);
  auto it = account_of_key_.find(std::string(key_id));
  if (it == account_of_key_.end()) return std::nullopt;
  return it->second;
}

void Cluster::RememberAccountOfKey(std::string_view key_id, std::string account_id) {
  std::lock_guard lock(keys_mu_);
  if (account_of_key_.size() >= options_.max_cached_keys) account_of_key_.clear();
  account_of_key_.insert_or_assign(std::string(key_id), std::move(account_id));
}

void Cluster::CountStandbyAnswer() { standby_answers_->Increment(); }
void Cluster::CountNotOwner() { not_owner_->Increment(); }

}  // namespace keymeter
