// The audit history: one entry per lifecycle op, accepted or rejected, per account.
//
// Layout (column family "audit"):
//   key   := account_id 0x00 be64(time_us) be64(seq)
//   value := fb::AuditRecord
// `seq` is the account's own counter (AccountState::next_audit_seq), so entries of one account
// never collide and a replay writes the same keys. Reads go newest first.
//
// Thread safety: the functions are safe to call concurrently on a thread-safe DB.

#pragma once

#include <optional>
#include <string>
#include <vector>

#include "projections/column_families.h"
#include "schemas/events_generated.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

struct AuditEntry {
  TimeUs time_us = 0;
  uint64_t seq = 0;
  std::string command_id;
  fb::ActorKind actor_kind = fb::ActorKind::System;
  std::string actor_key_id;  // the member's key id when actor_kind == Member
  std::string op;
  std::string key_id;
  std::string outcome;  // "OK" or the error code
  std::string detail;

  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

// Adds `entry` of `account_id` to `batch`.
void PutAudit(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
              const std::string& account_id, const AuditEntry& entry);

struct AuditQuery {
  std::string account_id;
  std::optional<KeyId> key;  // only entries about this key
  std::vector<std::string> ops;  // only entries of these ops ("CreditsAdded"), when not empty
  TimeUs from_us = 0;        // inclusive
  TimeUs to_us = INT64_MAX;  // exclusive
  size_t limit = 100;
  // Continue below this position: the `next_cursor` of the previous page.
  std::optional<std::pair<TimeUs, uint64_t>> before;
};

struct AuditPage {
  std::vector<AuditEntry> entries;  // newest first
  std::optional<std::pair<TimeUs, uint64_t>> next_cursor;  // set when more may follow
};

Result<AuditPage> ReadAudit(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                            const AuditQuery& query);

}  // namespace keymeter
