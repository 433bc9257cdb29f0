// Cluster: what one keymeter process needs to act as a member of a cluster (DESIGN §6): the
// Membership (who is there, who owns which partition), the partition of an account, and
// forwarding of a request to the member that owns it over kept-alive HTTP connections.
//
// Forwarded requests carry "X-Keymeter-Forwarded: <cluster secret>" and the client's address in
// "X-Keymeter-Client"; a member trusts both only with the right secret (FromPeer), and never
// forwards a forwarded request again (one hop: a member that no longer owns the partition
// answers 421 NOT-OWNER). The secret is derived from the operator token, which every member of
// a cluster shares; a member without one forwards nothing.
//
// Thread safety: thread-safe.

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cluster/membership.h"
#include "http/client.h"
#include "http/server.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace keymeter {

class Metrics;
class Pipeline;

struct ClusterOptions {
  MembershipOptions membership;  // `self` is filled from the pipeline
  // SHA-256 of the operator token (ApiOptions::operator_token_hash); unset: no forwarding.
  std::optional<Digest> operator_token_hash;
  std::chrono::milliseconds forward_timeout{5000};
  size_t max_idle_per_peer = 32;  // kept-alive connections to each member
  // The lag of each owned partition (ProjectorProbe::Lags); optional.
  std::function<std::map<int32_t, int64_t>()> lags;
  // Standby replicas of each partition (--standby-replicas), at most live members - 1: the
  // member the group will give it to if its owner dies, then the members after the owner in
  // the ring of live member ids (StandbysOf).
  int standby_replicas = 1;
  // Keys whose account was learnt from another member, remembered (KEYMETER_CLUSTER_KEY_CACHE).
  size_t max_cached_keys = 1'000'000;
};

// Sorts member ids as the group coordinator's member names sort, which is the order the range
// assignor deals partitions out in.
void SortAsGroupMembers(std::vector<std::string>& ids);
// Which of `members` (sorted as above) the range assignor gives `partition`.
size_t RangeAssignee(int32_t partition, int32_t partitions, size_t members);
// The `wanted` standbys of `partition` owned by `owner` among the live `ring` (sorted, the owner
// in it or not): first the member the group gives the partition to if its owner dies, then the
// members after the owner in the ring.
std::vector<std::string> StandbysOf(int32_t partition, int32_t partitions,
                                    const std::vector<std::string>& ring,
                                    const std::string& owner, size_t wanted);

class Cluster {
 public:
  // Starts the Membership of `pipeline` (Kafka mode only). Errors: Membership::Start's.
  static Result<std::unique_ptr<Cluster>> Start(ClusterOptions options, Pipeline& pipeline,
                                                Metrics& metrics);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Says goodbye on the members topic (Membership::Stop). Idempotent.
  void Stop();

  Membership& membership() { return *membership_; }
  const std::string& member_id() const { return membership_->member_id(); }

  // The events-topic partition of `account_id` (Kafka's murmur2 of the message key).
  int32_t PartitionOf(std::string_view account_id) const;
  // True when this member owns `partition` now.
  bool Owns(int32_t partition) const;
  bool OwnsAny() const;
  bool OwnsAll() const;
  // True once this member has caught up with a partition of its own, or every partition has a
  // live owner when it has none (latched):
  // `keymeter serve` is not ready before (GET /readyz "joining the cluster").
  bool Joined() const { return joined_.load(std::memory_order_acquire); }
  // True when this member owns `partition` and has caught up with it (its lag, as of the last
  // membership beat, is known and at most kSettledLag); an owner not caught up yet lets a
  // standby answer plain authorize (api/forwarding.h).
  bool Serves(int32_t partition) const;
  // The partitions this member tails as a standby (ClusterOptions::standby_replicas), as of the
  // last membership beat.
  std::vector<int32_t> StandbyPartitions() const;
  bool StandsBy(int32_t partition) const;
  // Messages this member's copy of `partition` was behind the log at the last beat (owned or
  // standby partitions); nullopt when it does not follow the partition.
  std::optional<int64_t> LagOf(int32_t partition) const;

  // True when every partition has an owner now (this member or a live peer) and every owner
  // is settled (MemberRecord::settled): a credential none of them knows is unknown.
  bool Settled() const;
  bool forwarding() const { return secret_.has_value(); }

  // True when `request` came from another member (its X-Keymeter-Forwarded holds the secret).
  bool FromPeer(const http::Request& request) const;
  // Sends `request` as it came to the member at `base_url`, with the client's address, and
  // returns the answer as it is. HTTP-ERROR when the member can't be reached or answer in
  // time. Only when forwarding().
  // `standby_read`: the member may answer from its standby copy (plain authorize while the
  // owner is away), saying so ("X-Keymeter-Standby-Read: true", StandbyRead()).
  Result<http::ClientReply> Forward(const std::string& base_url, const http::Request& request,
                                    std::string_view client_address, bool standby_read = false);
  // True when a request from a member asks for a standby's answer (Forward's standby_read).
  static bool StandbyRead(const http::Request& request);

  // A GET of `target` at the member at `base_url`, as a member (cluster-internal routes).
  Result<http::ClientReply> Ask(const std::string& base_url, std::string_view target);

  // The accounts of keys found on other members before (a key never changes account), at most
  // ClusterOptions::max_cached_keys of them (the cache starts over when full).
  std::optional<std::string> CachedAccountOfKey(std::string_view key_id) const;
  void RememberAccountOfKey(std::string_view key_id, std::string account_id);

  // For metrics: a request answered from this member's copy because its owner could not be
  // reached; a forwarded request refused 421 because this member does not own it.
  void CountStandbyAnswer();
  void CountNotOwner();

 private:
  struct Pool;
  Cluster(ClusterOptions options, Pipeline& pipeline, Metrics& metrics);
  // True when each partition is in `owned` (this member's) or has a live owner.
  bool EveryPartitionOwned(const std::vector<int32_t>& owned) const;
  // The partitions this member should tail as a standby, from the live members now.
  std::vector<int32_t> ComputeStandbys() const;
  // Metrics of a membership beat (on its thread): partitions owned and stood by, live members,
  // and each partition taken over, with the time from its assignment to caught up (`serving`).
  void CountBeat(const SelfState& state, const std::vector<int32_t>& serving);
  Result<http::ClientReply> Send(const std::string& base_url, std::string_view method,
                                 std::string_view target, std::string_view body,
                                 std::string_view content_type, http::ClientHeaders headers);
  std::unique_ptr<http::Client> TakeClient(const std::string& base_url);
  void GiveBack(const std::string& base_url, std::unique_ptr<http::Client> client);

  const ClusterOptions options_;
  Pipeline& pipeline_;
  std::optional<std::string> secret_;  // hex
  std::unique_ptr<Membership> membership_;
  std::atomic<bool> started_{false};  // membership_ is set (its thread asks for standbys)
  std::atomic<bool> joined_{false};   // Joined()
  mutable std::mutex serving_mu_;
  std::vector<int32_t> serving_;  // GUARDED_BY(serving_mu_): owned and caught up, ascending
  std::vector<int32_t> standby_;  // GUARDED_BY(serving_mu_): ComputeStandbys() at the last beat
  std::map<int32_t, int64_t> lag_;  // GUARDED_BY(serving_mu_): at the last beat
  std::unique_ptr<Pool> pool_;
  mutable std::mutex keys_mu_;
  absl::flat_hash_map<std::string, std::string> account_of_key_;  // GUARDED_BY(keys_mu_)

  prometheus::Counter* forwarded_ok_ = nullptr;
  prometheus::Counter* forwarded_failed_ = nullptr;
  prometheus::Counter* standby_answers_ = nullptr;
  prometheus::Counter* not_owner_ = nullptr;
  prometheus::Histogram* forward_latency_ = nullptr;
  prometheus::Gauge* owned_gauge_ = nullptr;
  prometheus::Gauge* standby_gauge_ = nullptr;
  prometheus::Gauge* live_members_gauge_ = nullptr;
  prometheus::Counter* handovers_ = nullptr;
  prometheus::Histogram* handover_seconds_ = nullptr;
  // The membership thread's: when each owned partition not yet caught up with was assigned.
  std::map<int32_t, std::chrono::steady_clock::time_point> taking_over_;
  std::vector<int32_t> owned_at_last_beat_;
};

}  // namespace keymeter
