// Corrections of closed months (UsageAdjusted, docs/api.md "Corrections"): what was counted
// stays as it was in the usage projection; each correction is kept apart, so billing and export
// can show the original figure, the corrections and the corrected total, and the month's
// version (its number of corrections, AccountState::adjusted_months).
//
// Layout (column family "adjustments"):
//   key   := account_id 0x00 be64(month_start_us) be64(version)
//   value := fb::AdjustmentRecord
// `version` is the month's counter after this correction (1, 2, ...), so a month's corrections
// are one contiguous scan, in order, and a replay writes the same keys.
//
// Thread safety: the functions are safe to call concurrently on a thread-safe DB.

#pragma once

#include <map>
#include <string>
#include <string_view>
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

struct Adjustment {
  std::string key_id;
  TimeUs month_start_us = 0;
  uint64_t version = 0;
  int64_t requests = 0;
  int64_t units = 0;
  std::string reason;
  TimeUs time_us = 0;  // when it was made (the op's event time)
  std::string command_id;
  fb::ActorKind actor_kind = fb::ActorKind::System;
  std::string actor_key_id;

  friend bool operator==(const Adjustment&, const Adjustment&) = default;
};

// The sums of a month's corrections of one key.
struct AdjustedCounts {
  int64_t requests = 0;
  int64_t units = 0;
};

std::string AdjustmentKey(std::string_view account_id, TimeUs month_start_us, uint64_t version);

// Adds `a` of `account_id` to `batch`.
void PutAdjustment(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf,
                   std::string_view account_id, const Adjustment& a);

// The corrections of `account_id`'s month starting at `month_start_us`, oldest first.
// Errors: IO-ERROR, CORRUPT-RECORD.
Result<std::vector<Adjustment>> ReadAdjustments(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                                std::string_view account_id,
                                                TimeUs month_start_us);

// Their sums per key id.
std::map<std::string, AdjustedCounts> SumByKey(const std::vector<Adjustment>& adjustments);

}  // namespace keymeter
