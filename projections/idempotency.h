// Idempotent commands (Envelope.request_digest; docs/api.md "Idempotency-Key"): the projector
// applies a command id once, and keeps its first outcome for a day of log time, so a retry —
// the same command id published again, by a client that never saw the answer — gets that
// outcome back instead of a second application, also after a restart or on another member.
//
// Layout (column family "idempotency"):
//   account_id 0x00 command_id              -> fb::IdempotencyRecord (time, request digest,
//                                              first outcome)
//   account_id 0x01 be64(time_us) command_id -> "" (the records by age)
// Rows belong to the command's account, so they follow its partition (checksums, drops). Each
// new record first removes its account's records older than the window (their index rows are
// one scan): a quiet account keeps at most its last day's records on disk, nothing in memory.
//
// The projector writes a batch while it applies the next (Projector::Commit), so what the store
// shows lags what was applied: the ledger keeps the records and removals of batches not yet
// written in an overlay, and reads through it. Check() and Record() see exactly what a store
// written message by message would show, so a replay in any batching decides the same.
//
// Thread safety: the projector's thread only (like the batch it writes into).

#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

// How long a command id's first outcome is kept, in log (event) time.
inline constexpr TimeUs kIdempotencyWindowUs = 24LL * 3600 * 1'000'000;

class IdempotencyLedger {
 public:
  IdempotencyLedger(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}

  struct Answer {
    bool seen = false;  // false: apply the command (never seen, or more than the window ago)
    Status outcome;     // when seen: the first outcome (the same request again), or
                        // IDEMPOTENCY-KEY-REUSED (another request under the same id)
  };
  // What a command `command_id` of `account_id`, sent at `time_us` for the request `digest`,
  // gets. Errors: IO-ERROR, CORRUPT-RECORD.
  Result<Answer> Check(std::string_view account_id, std::string_view command_id,
                       const Digest& digest, TimeUs time_us) const;

  // After applying it: keeps `outcome` as the command's first, and removes `account_id`'s
  // records older than the window before `time_us`. Errors: IO-ERROR (reading the index).
  Status Record(rocksdb::WriteBatch* batch, std::string_view account_id,
                std::string_view command_id, const Digest& digest, TimeUs time_us,
                const Status& outcome);

  // The batch being filled is complete; returns its number (for Written()).
  uint64_t Seal() { return generation_++; }
  // Batch `generation` and every earlier one are in the store: their overlay is not needed.
  void Written(uint64_t generation);
  // Nothing applied is pending (the projector reopened).
  void Clear() { overlay_.clear(); }

 private:
  struct Entry {
    uint64_t generation = 0;
    bool present = false;  // false: removed in a batch not yet written
    TimeUs time_us = 0;
    Digest digest{};
    Status outcome;
  };
  // The record of `key` (account 0x00 command id) as the store will show it.
  Result<std::optional<Entry>> Find(const std::string& key) const;
  void Remove(rocksdb::WriteBatch* batch, const std::string& key, std::string_view account_id,
              std::string_view command_id, TimeUs time_us);

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  uint64_t generation_ = 0;
  std::map<std::string, Entry> overlay_;  // by primary key; batches not yet written
};

}  // namespace keymeter
