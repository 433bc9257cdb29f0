// KafkaSource: the projector's Source over one Kafka topic (keymeter.events), read as a member
// of a consumer group through KafkaConsumer.
//
// Offsets: every assigned partition starts at the stored offset (StoredOffsetFn; nullopt = the
// earliest offset still in Kafka). The stored offsets live in RocksDB with the state they
// produced, so a revocation loses nothing: messages fetched but not yet returned are dropped and
// read again, from the stored offset, when the partition comes back. StoredOffsetFn must hence
// return the offset after the last message the projector *applied* (committed or still in its
// open batch), not only the last one committed. A stored offset that Kafka's retention already
// deleted falls back to the earliest offset left (auto.offset.reset=earliest).
// Committed() commits the offsets to the group asynchronously, only so that lag shows in
// kafka-consumer-groups; keymeter never reads them back.
//
// A fetch thread: the first Poll() starts a thread of the source's own that calls librdkafka
// (consume, the rebalances inside it, the standby consumer) and moves what it
// fetched into a buffer, per partition, in chunks of at most kFetchChunk messages; Poll() only
// takes from that buffer, round robin across partitions (offset order within each). So the
// projector applies while the next messages are fetched, instead of taking turns with
// librdkafka on one thread. Rebalances stay exact: before it names where an (re)assigned
// partition starts (StoredOffsetFn, asked on the fetch thread), the fetch thread waits until
// the caller has finished with every message Poll() handed out (it called Release(), Poll()
// again, or Close()), and drops what is buffered of that partition; so the stored offset it is
// given counts everything applied, and nothing older arrives after it. The wait is one apply
// chunk at most (the projector releases after each, not after its commit): a rebalance
// callback that waited for a commit held up the group's rebalance: in two ctest runs of the
// recovery label, broker_fault_test saw a joining member take all four partitions meanwhile.
//
// Flow control and memory bound: when the buffer holds `max_buffered_messages` messages or
// `max_buffered_bytes` bytes (payload + key + an estimated kMessageOverheadBytes of
// librdkafka's per message), the fetch thread takes nothing more until Poll() makes room (the
// projector takes at most a few thousand at a time, so rebalances wait a few milliseconds at
// most). librdkafka's own prefetch queue then fills up to queued.max.messages.kbytes (64 MiB
// per partition in librdkafka 2.0.2, its default) and stops fetching by itself. So fetched
// messages take at most about 64 MiB per partition + one fetch of fetch.max.bytes (32 MiB) +
// max_buffered_bytes (1024 MiB), plus the batch last returned: ~1.3 GiB with 4 partitions of a
// 24 GiB machine, reached only while the projector is slower than Kafka. (An earlier version
// paused the partitions instead; a pause drops what librdkafka prefetched, up to 64 MiB a
// partition, to be fetched again after the resume, and the projector waited for it: 6M
// events, 6.4 s of 13 s in Poll with pauses, 3.3 s without; 552k -> 658k events/s.)
//
// Fetch sizes: librdkafka 2.0.2 fetches a partition again only once its queue drained and its
// broker thread wakes, so small fetches starve a fast reader. With the defaults keymeter had
// before (fetch.max.bytes 8 MiB, max.partition.fetch.bytes 1 MiB, queued.max.messages.kbytes
// 32 MiB) the projector spent 8.7 of 13.6 s waiting in Poll() for 3.1M events; with 32 MiB per
// fetch and 8 MiB per partition, 2.8 s (bench_ingest's projector_thread_s, 2026-12-05).
//
// Why so large a buffer: a queue-throttled partition restarts fetching only when its broker
// thread next wakes, up to ~1 s later. The buffer must cover that second of projector work, or
// the projector idles. Measured on the 2-core build machine, 2M
// messages of ~190 B, a projector spending 1 us per message: 140k msg/s with a
// 100,000-message buffer, 450k-650k/s with 1,000,000. A buffered message costs ~650 B of
// memory in all.
//
// Rewinds: a message of a partition below the next offset the source expects of it (the start
// offset it named at the assignment, then one past the last message it took) is dropped and
// counted (SourceBuffer::rewound): librdkafka 2.0.2 can fetch a partition again from an older
// offset after a rebalance (confluentinc/librdkafka#4637, #4686: a stale fetch start), and the
// projector must not apply a message twice. kafka_source_test saw it once in ~10 runs.
//
// Payloads: FlatBuffers reads in place and needs 8-byte alignment; a payload that librdkafka's
// buffer holds at an aligned address is handed out as it is, the others are copied into an
// aligned arena. Either way they stay valid until the next Poll(). log_time_us of a message is
// its Kafka timestamp. name() is "kafka/<topic>".
//
// Standbys (KafkaSourceOptions::standby_partitions): a second, manual consumer tails partitions
// the group gave to other members, from the stored offsets, into the same buffer and projector:
// the projection is a function of the log, so a standby's state is the owner's, a little behind.
// When the group assigns this member a partition it tailed, the standby's buffered messages of it
// are dropped and the group's consumer goes on from the stored offset.
//
// Thread safety: Poll(), Committed(), LogEnds(), Followed(), ProbeLog() and Close() are called by
// one thread (the projector's), like every Source; the fetch thread is the source's own. The
// accessors for metrics and tests may be called from any thread. `stored_offset`,
// `on_ownership` and `standby_partitions` are called on the fetch thread (or the thread in
// Close()): they must be thread-safe, and `stored_offset` must not wait for the projector.

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "consumers/decode.h"
#include "consumers/kafka_consumer.h"
#include "consumers/source.h"

namespace keymeter {

// What one buffered message costs beyond its payload and key (librdkafka's op and message
// structs, our deque slot), counted against max_buffered_bytes.
constexpr size_t kMessageOverheadBytes = 512;
// The most the fetch thread takes from librdkafka before the projector may see it.
constexpr size_t kFetchChunk = 10'000;

struct KafkaSourceOptions {
  std::string brokers;  // required
  std::string group_id = "keymeter";
  std::string topic = "keymeter.events";
  std::string client_id = "keymeter";
  StoredOffsetFn stored_offset;  // nullopt (or no function) = from the earliest offset
  size_t max_buffered_messages = 1'000'000;
  size_t max_buffered_bytes = size_t{1} << 30;
  // Raw librdkafka properties applied last (they override the bounds above).
  std::vector<std::pair<std::string, std::string>> extra;
  // Told of each partition assigned (true) or revoked (false), on the thread inside Poll() or
  // Close() (the cluster's ownership: engine/pipeline.h).
  std::function<void(int32_t partition, bool assigned)> on_ownership;
  // The partitions to tail as a standby (a cluster: partitions other members own, kept warm in
  // this store so that this member can answer for them and take them over without a replay).
  // Asked at every Poll(); partitions the group assigns to this member are left out. Unset: none.
  std::function<std::vector<int32_t>()> standby_partitions;
};

class KafkaSource : public Source {
 private:
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // Subscribes to `options.topic`; the group is joined on the first Poll(). Errors: those of
  // KafkaConsumer::Create (KAFKA-CONFIG, KAFKA-ERROR).
  static Result<std::unique_ptr<KafkaSource>> Create(KafkaSourceOptions options);
  KafkaSource(PrivateTag, KafkaSourceOptions options);  // use Create()
  ~KafkaSource() override;                              // leaves the group

  // Errors: KafkaConsumer::Poll's (KAFKA-ERROR transient, KAFKA-FATAL, KAFKA-SESSION-REFUSED),
  // met by the fetch thread and returned before the messages it buffered after them;
  // KAFKA-CLOSED after Close().
  Result<size_t> Poll(std::vector<SourceMessage>* out, size_t max,
                      std::chrono::milliseconds timeout) override;
  // Lets a rebalance waiting in StartOffset() go on (the caller's own thread; the payloads stay
  // valid until the next Poll()).
  void Release() override;
  // Commits `next` of the partitions still assigned, asynchronously; failures are ignored.
  void Committed(const std::vector<PartitionOffset>& next) override;
  std::string name() const override { return "kafka/" + options_.topic; }
  // The assigned and standby partitions' high watermarks from the last fetch responses (no
  // round trip); not all known while one of them has had no fetch response yet.
  LogEndsSeen LogEnds() const override;

  // Stops the fetch thread, leaves the group and releases every fetched message (the payloads
  // of the last Poll too). Idempotent. Errors: KAFKA-ERROR.
  Status Close();

  // The topic's partitions and their offsets now, and the first offset at or after a time:
  // A metadata request for the topic (KafkaConsumer::QueryPartitions): the broker answered,
  // or why not. Keeps `timeout`.
  Status ProbeLog(std::chrono::milliseconds timeout) override;
  // KafkaConsumer::QueryBounds and OffsetsForTime on options.topic (for replays).
  Result<std::vector<PartitionBounds>> QueryBounds(std::chrono::milliseconds timeout);
  Result<std::vector<TopicPartitionOffset>> OffsetsForTime(const std::vector<int32_t>& partitions,
                                                           int64_t time_ms,
                                                           std::chrono::milliseconds timeout);

  std::optional<std::vector<int32_t>> Followed() const override;
  SourceBuffer Buffered() const override;
  // For metrics and tests.
  size_t buffered_messages() const;
  std::vector<int32_t> assigned() const;
  std::vector<int32_t> standbys() const;
  // Times the buffer was found full (the fetch thread waited for room).
  uint64_t full_count() const;
  // Messages dropped as a rewind (see the header).
  uint64_t rewound_count() const;

 private:
  void FetchLoop();
  // Moves up to kFetchChunk messages from `consumer` into pending_ (those of partitions still
  // read). Fetch thread.
  Status Fill(KafkaConsumer& consumer, bool standby, std::chrono::milliseconds timeout);
  void TakeRoundRobin(size_t max);  // REQUIRES(mu_)
  void OnAssigned(int32_t partition);
  void OnRevoked(int32_t partition);
  // Where a partition (re)assigned to this member or tailed as a standby starts: waits until
  // the caller is done with what Poll() handed out, drops what is buffered of it, then asks
  // stored_offset. Fetch thread, inside a rebalance or SyncStandbys.
  std::optional<int64_t> StartOffset(int32_t partition);
  // Drops what is buffered of `partition` (it is read again from the stored offset).
  void DropBuffered(int32_t partition);  // REQUIRES(mu_)
  // Brings the standby consumer's partitions to KafkaSourceOptions::standby_partitions.
  void SyncStandbys();  // fetch thread
  bool Full() const;    // REQUIRES(mu_)
  template <typename F>
  auto Locked(F f) const {
    std::lock_guard lock(mu_);
    return f();
  }

  KafkaSourceOptions options_;
  std::vector<KafkaMessage> incoming_;  // fetch thread: being fetched (DropBuffered filters it)
  std::vector<KafkaMessage> taken_;     // Poll's: handed out by the last Poll
  PayloadArena arena_;  // Poll's: aligned copies of the last Poll's unaligned payloads
  std::vector<size_t> copied_;  // Poll's: which messages of the last Poll point into arena_
  size_t rotation_ = 0;  // Poll's: partition index served first by the next Poll
  bool closed_ = false;  // Poll's
  std::thread fetcher_;

  mutable std::mutex mu_;
  std::condition_variable data_cv_;   // messages, an error or stop: for Poll
  std::condition_variable room_cv_;   // room in the buffer or stop: for the fetch thread
  std::condition_variable idle_cv_;   // the caller is done with its messages: for StartOffset
  std::map<int32_t, std::deque<KafkaMessage>> pending_;  // GUARDED_BY(mu_) fetched, not taken
  size_t buffered_messages_ = 0;                         // GUARDED_BY(mu_)
  size_t buffered_bytes_ = 0;                            // GUARDED_BY(mu_)
  std::set<int32_t> assigned_;                           // GUARDED_BY(mu_)
  std::set<int32_t> standby_;  // GUARDED_BY(mu_) tailed by standby_consumer_, never in assigned_
  uint64_t full_count_ = 0;    // GUARDED_BY(mu_)
  uint64_t rewound_ = 0;       // GUARDED_BY(mu_) messages dropped as below next_fetch_
  // The next offset expected per partition read (absent: from the earliest, not known yet).
  std::map<int32_t, int64_t> next_fetch_;  // GUARDED_BY(mu_), written by the fetch thread
  Status deferred_error_;      // GUARDED_BY(mu_)
  bool holding_ = false;       // GUARDED_BY(mu_) the caller has messages of the last Poll
  bool stopping_ = false;      // GUARDED_BY(mu_)
  // Reset explicitly by the destructor, after the messages above are released.
  std::unique_ptr<KafkaConsumer> consumer_;
  std::unique_ptr<KafkaConsumer> standby_consumer_;  // with standby_partitions only
};

}  // namespace keymeter
