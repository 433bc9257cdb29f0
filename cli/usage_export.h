// Usage rows for billing and analysis, read from the usage projection of a store, and their CSV
// and NDJSON forms (`keymeter export`).
//
// A query names a period [from, to) and a grouping:
//   account  one row per account                        (usage scope 'a')
//   root     one row per root key: the key and its children rolled up, as they were linked when
//            each request was applied                    (scope 'r')
//   key      one row per key; root_key_id is the key's root now   (scope 'k')
//   product  one row per key and product; root_key_id as for key (scope 'p', day buckets)
// A month period reads month buckets; any other reads day buckets and sums them (product rows
// always sum days). Only cells that exist give rows, so an account or key without requests in
// the period has none. Rows come ordered by account id, then key id, then product.
//
// The watermark is the minimum over the store's partitions of their stored watermark (the
// latest event time of an accepted request; partitions without one are skipped, as the
// projector's Watermark() does). The period is complete once watermark >= to + lateness.
//
// CSV (RFC 4180: header line, fields quoted when they hold a comma, a quote or a line break;
// a field that starts with = + - @ tab or CR is written quoted after a ' so that no spreadsheet
// runs it as a formula;
// "\n" line ends, times as "2026-03-01T00:00:00Z", empty cells where a column does not apply):
//   period_start,period_end,account_id,root_key_id,key_id,product,requests,units,errors_4xx,
//   errors_5xx,bytes_in,bytes_out,watermark,complete,credits_balance,adjusted_requests,
//   adjusted_units,corrected_requests,corrected_units,version
// credits_balance (root rows of a pool with credits): the pool's balance as the store holds it,
// with the refills due by the watermark counted (docs/api.md, Limits); empty otherwise.
// The last five (month periods; not product rows): the sums of the month's corrections of the
// row's keys (projections/adjustments.h), what was counted plus them, and the account's version
// of the month (its number of corrections); requests..bytes_out stay as counted.
// NDJSON: one object per row with the same names; null where a column does not apply.
//
// Thread safety: CollectUsage reads a store that others may write (RocksDB is thread-safe) but
// `directory` must not change meanwhile. The formatting functions are pure.

#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store.h"
#include "projections/key_directory.h"
#include "projections/adjustments.h"
#include "projections/usage.h"
#include "schemas/text.h"  // CsvField

namespace keymeter {

enum class ExportBy { kAccount, kRoot, kKey, kProduct };

// "account", "root", "key", "product"; nullopt for anything else.
std::optional<ExportBy> ParseExportBy(std::string_view text);

struct ExportQuery {
  TimeUs from_us = 0;
  TimeUs to_us = 0;    // exclusive
  bool month = false;  // [from, to) is one calendar month: read month buckets
  ExportBy by = ExportBy::kAccount;
  TimeUs lateness_us = kMicrosPerHour;
};

struct ExportRow {
  std::string account_id;
  std::string root_key_id;  // empty where not applicable
  std::string key_id;
  std::string product;
  Counters counters;
  std::optional<int64_t> credits_balance;  // root rows of a pool with credits
  std::optional<AdjustedCounts> adjusted;  // month periods, but for product rows
  uint64_t version = 0;                    // the account's version of the month
};

struct UsageExport {
  TimeUs from_us = 0;
  TimeUs to_us = 0;
  std::optional<TimeUs> watermark;
  bool complete = false;
  std::vector<ExportRow> rows;
};

// Errors: IO-ERROR, CORRUPT-RECORD from the store.
Result<UsageExport> CollectUsage(const Store& store, const KeyDirectory& directory,
                                 const ExportQuery& query);

std::string CsvHeader();                                            // with its "\n"
std::string CsvRow(const UsageExport& e, const ExportRow& row);     // with its "\n"
std::string NdjsonRow(const UsageExport& e, const ExportRow& row);  // with its "\n"

}  // namespace keymeter
