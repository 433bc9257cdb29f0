// Membership: the members of a keymeter cluster and the partitions each owns, found through
// Kafka alone (DESIGN §6). Each member writes its MemberRecord to the compacted, one-partition
// topic `keymeter.members` (key: its member id) every `heartbeat` and as soon as its partitions
// change, and reads the whole topic from its beginning (assign(), outside any group), so every
// member holds every member's latest record.
//
// Who owns a partition: the consumer group decides (engine/pipeline.h); this class only spreads
// the word. A member is live while its records keep coming: heard within `expiry` (the record's
// own time and its arrival both) and not leaving. A member whose broker connection is cut can't
// write, so the others stop routing to it after `expiry`; librdkafka takes its partitions away
// once its session times out. When two live members claim a partition (the old owner's last
// record before its revocation reached the topic), the later assignment wins.
//
// Thread safety: thread-safe. One thread of its own reads and writes the topic; `self` is called
// on it.

#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/member_record.h"
#include "schemas/status.h"

namespace keymeter {

class KafkaConsumer;
class KafkaProducer;

// What this member says of itself in its next record.
struct SelfState {
  std::vector<int32_t> owned;
  std::vector<int32_t> standby;
  std::map<int32_t, int64_t> lag;
  bool settled = false;  // MemberRecord::settled
};

struct MembershipOptions {
  std::string brokers;  // required
  std::string topic = "keymeter.members";
  std::string events_topic = "keymeter.events";  // whose partitions are owned
  std::string group;      // required, ValidMemberId(): records of others are skipped
  std::string member_id;  // required, ValidMemberId()
  std::string url;        // required, ValidAdvertisedUrl()
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds expiry{4000};
  std::function<SelfState()> self;  // required
};

// One member as this process sees it.
struct MemberView {
  MemberRecord record;
  bool self = false;
  bool live = false;
  int64_t heard_ms_ago = 0;  // since its last record arrived (0 for this member)
};

class Membership {
 public:
  // Creates the members topic if missing (compacted, one partition), learns how many partitions
  // the events topic has, and starts the thread. Errors: KAFKA-CONFIG, KAFKA-TIMEOUT,
  // KAFKA-NO-TOPIC (no events topic), KAFKA-ERROR.
  static Result<std::unique_ptr<Membership>> Start(MembershipOptions options);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Writes a last record that owns nothing ("leaving"), waits up to 2 s for it to be delivered,
  // and stops the thread. Idempotent.
  void Stop();

  int32_t partitions() const { return partitions_; }
  const std::string& member_id() const { return options_.member_id; }
  const std::string& url() const { return options_.url; }

  // Every member heard of (this one first), the rest by id.
  std::vector<MemberView> Members() const;
  // The live member other than this one that owns `partition`; nullopt when none does.
  std::optional<MemberRecord> PeerOwning(int32_t partition) const;
  // This member's record as last written.
  MemberRecord Self() const;
  // The member other than this one that claimed `partition` last, live or not (not one that
  // left cleanly): whose standbys keep tailing it until a new owner claims it.
  std::optional<MemberRecord> LastClaimant(int32_t partition) const;
  // The live members other than this one, by id.
  std::vector<MemberRecord> LivePeers() const;
  // Records of the topic that did not decode (INVALID-MEMBER-RECORD), since Start().
  uint64_t invalid_records() const { return invalid_records_.load(std::memory_order_relaxed); }

 private:
  struct Heard {
    MemberRecord record;
    std::chrono::steady_clock::time_point at;
  };
  explicit Membership(MembershipOptions options);
  void Loop(std::stop_token stop);
  void Publish(const SelfState& state, bool leaving);
  bool Live(const Heard& heard, std::chrono::steady_clock::time_point now, int64_t now_ms) const;

  const MembershipOptions options_;
  int32_t partitions_ = 0;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<KafkaConsumer> consumer_;  // the thread's only
  std::atomic<uint64_t> invalid_records_{0};

  mutable std::mutex mu_;
  std::map<std::string, Heard> peers_;  // GUARDED_BY(mu_), by member id, this one excluded
  MemberRecord self_;                   // GUARDED_BY(mu_), as last written
  std::jthread thread_;
  bool stopped_ = false;  // Stop()'s only
};

}  // namespace keymeter
