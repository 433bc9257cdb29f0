// Threshold alerts (docs/api.md "Alerts"), derived from the log like every projection: a key's
// alert thresholds (AlertThresholdsSet: percents) watch a root key's pool limits (daily
// requests, monthly units, and its credits while they are on: the units spent of the balance
// the window opened with, a window opening at each top-up, change of their config or refill) or
// a child's member caps (daily requests, monthly units). The
// projector raises `threshold.crossed` when a count reaches a percent of its limit —
// once per window — and `threshold.resolved` when that window ends (the first request of the
// next day or month), when the limit or the thresholds change so that the count is under it
// again, or when the thresholds are turned off. An alert is about one limit: a changed limit
// resolves the alerts of the old one and raises those the count is over under the new one.
//
// What thresholds count lives in the key's record (KeyExtras::alert_day, alert_month: the
// requests of the day, the units of the month since the thresholds were set), so the same log
// raises the same alerts with the same ids in any replay, after any restart. A late event (of
// a window before the one counted) counts in usage, not here.
//
// Layout (column family "alerts"): account_id 0x00 be64(time_us) alert_id -> fb::AlertRecord,
// `time_us` the event time of the request or op that raised it.
//
// Thread safety: the functions are safe to call concurrently on a thread-safe DB.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/key_state.h"
#include "schemas/ids.h"
#include "schemas/status.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace keymeter {

// At most this many thresholds per key, each 1..100 (INVALID-THRESHOLDS otherwise).
inline constexpr size_t kMaxAlertThresholds = 8;

struct Alert {
  std::string alert_id;  // "alert_" + 32 hex digits, a function of what it is about
  bool resolved = false;
  std::string account_id;
  std::string key_id;
  // daily_requests, monthly_units, credits, member_daily_requests, member_monthly_units
  std::string metric;
  uint8_t percent = 0;
  uint64_t limit = 0;
  uint64_t value = 0;  // the count when it was raised
  TimeUs window_start_us = 0;
  TimeUs time_us = 0;
  std::string resolves;  // a resolved alert's crossed one

  friend bool operator==(const Alert&, const Alert&) = default;
};

// What a key's thresholds watch, as of one moment: for a root key its pool's limits, for a
// child its member caps.
struct AlertWatch {
  std::string account_id;
  KeyId key;
  bool member = false;
  uint64_t day_limit = 0;
  uint64_t month_limit = 0;
  std::vector<uint8_t> percents;
  AlertWindow day, month;
  CreditsWindow credits;
};
AlertWatch AlertWatchOf(const KeyState& key);

// The alerts a change of `before` into `after` (the same key: a limit or the thresholds set)
// raises at `time_us`.
void AlertChanges(const AlertWatch& before, const AlertWatch& after, TimeUs time_us,
                  std::vector<Alert>* out);

// Opens `key`'s credits window at `time_us` with its balance then, when it is a root key with
// thresholds and credits on; closes it otherwise. After an op that set thresholds or changed
// the credits (a top-up, their config): the alerts of the window before resolve.
void OpenCreditsWindow(KeyState& key, TimeUs time_us);

// Counts one request of `units` at `time_us` into `key`'s windows (its thresholds must be set),
// as its pool's (`member` false) or as a member's, appending the alerts raised.
void CountForAlerts(KeyState& key, bool member, TimeUs time_us, uint64_t units,
                    std::vector<Alert>* out);

// OK, or INVALID-THRESHOLDS: more than kMaxAlertThresholds, one outside 1..100, or twice.
Status CheckThresholds(const std::vector<uint8_t>& percents);

void PutAlert(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, const Alert& a);

// The alert raised at `time_us` with this id; nullopt when there is none. IO-ERROR,
// CORRUPT-RECORD.
Result<std::optional<Alert>> ReadAlert(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                       std::string_view account_id, TimeUs time_us,
                                       std::string_view alert_id);

struct AlertPage {
  std::vector<Alert> alerts;
  std::string next_cursor;  // "" at the end
};
// `account_id`'s alerts, newest first, of `key_id` only when it is not empty; `cursor` from the
// previous page. Errors: IO-ERROR, CORRUPT-RECORD, INVALID-FIELD (a cursor not of a page).
Result<AlertPage> ReadAlerts(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                             std::string_view account_id, std::string_view key_id, size_t limit,
                             std::string_view cursor);

}  // namespace keymeter
