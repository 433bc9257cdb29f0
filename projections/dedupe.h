// DedupeWindow: drops gateway retries — a request id seen again for the same account within a
// window of event time (default one hour) — with bounded memory. One window per partition, so
// that what it holds is a function of that partition's log alone (accounts never span
// partitions, and the interleaving of partitions differs from run to run).
//
// The window holds the (time, account, request id) of every accepted request whose time is at
// least `watermark - window`, where the watermark is the latest event time of the partition;
// beyond `max_entries` the oldest go first (the oldest eighth at once). A request older than the
// window can't be checked and is accepted. After a restart the window is rebuilt from the
// request log, which holds exactly the accepted requests; the rebuilt window equals the live one
// while it never reached `max_entries`.
//
// One hash table holds (account hash, request id) -> time. An entry that fell out of the window
// is ignored by lookups and swept away in one pass once the watermark has moved an eighth of
// the window, so a request costs one lookup and one insert — no ordered index.
//
// Memory: 33 bytes per slot of the hash table, whose slots are 1.1 to 2.3 times the entries; at
// the default bound of 2,000,000 entries per partition the table has 2^22 slots, ~140 MB.
//
// Thread safety: not thread-safe (the projector's alone).

#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "schemas/ids.h"

namespace keymeter {

// FNV-1a's 64-bit loop (xor a byte, multiply by the FNV prime) from the offset basis
// 1469598103934665603 — not FNV-1a's own (14695981039346656037), so its values are not the
// reference vectors'; kept because Kafka's group.instance.id is derived from it
// (engine/pipeline.cc) and must not change between versions. Stable across processes.
uint64_t StableHash(std::string_view s);

class DedupeWindow {
 public:
  // A request as the window knows it: StableHash of its account id, and its id. Worked out
  // once per event (IdOf) for both Prefetch and SeenOrAdd.
  using Id = std::pair<uint64_t, RequestIdBytes>;
  static Id IdOf(std::string_view account_id, const RequestIdBytes& id) {
    return {StableHash(account_id), id};
  }

  DedupeWindow(TimeUs window_us, size_t max_entries)
      : window_us_(window_us), max_entries_(max_entries) {}

  // True when `id` is in the window: a duplicate to drop. Otherwise remembers it (when recent
  // enough) and returns false. Advances the watermark to `t`.
  bool SeenOrAdd(const Id& id, TimeUs t);
  bool SeenOrAdd(std::string_view account_id, const RequestIdBytes& id, TimeUs t) {
    return SeenOrAdd(IdOf(account_id, id), t);
  }

  // Starts loading the slot SeenOrAdd(id, ...) will probe.
  void Prefetch(const Id& id) const { ids_.prefetch(id); }
  // Remembers an accepted request without checking it (rebuilding after a restart).
  void Remember(std::string_view account_id, const RequestIdBytes& id, TimeUs t);
  void set_watermark(TimeUs t) { watermark_ = std::max(watermark_, t); }

  TimeUs watermark() const { return watermark_; }
  TimeUs window_start() const { return watermark_ - window_us_; }
  // Entries held, including any that fell out of the window and await the next sweep.
  size_t size() const { return ids_.size(); }
  // Bytes the hash table holds: its slots and their control bytes (the table never shrinks).
  size_t memory_bytes() const {
    return ids_.capacity() * (sizeof(decltype(ids_)::value_type) + 1);
  }

 private:
  struct IdHash {
    size_t operator()(const Id& k) const;
  };

  void MaybeSweep();

  const TimeUs window_us_;
  const size_t max_entries_;
  TimeUs watermark_ = INT64_MIN / 2;
  TimeUs swept_at_ = INT64_MIN / 2;  // the watermark at the last sweep
  absl::flat_hash_map<Id, TimeUs, IdHash> ids_;
};

}  // namespace keymeter
