// Request-level rows of the request log for analysts (`keymeter export --requests`): one row per
// request event the projector applied, in time order, for a range of UTC days, all accounts or
// one, all keys or one.
//
// CSV (RFC 4180, as cli/usage_export.h writes it: quoted when needed, formula-looking cells
// defused; "\n" line ends):
//   time,account_id,key_id,request_id,product,units,status,bytes_in,bytes_out,latency_us,ip,gateway
// time is RFC 3339 UTC with microseconds, request_id a UUID's text form. NDJSON: one object per
// row with the same names (numbers as numbers). Both read in DuckDB and pandas without options.
//
// Memory: rows are written as the store is read (ScanRequests, one block at a time); nothing
// grows with the range.
//
// Thread safety: ExportRequests reads a store that others may write; `directory` must not change
// meanwhile. The formatting functions are pure.

#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/store.h"
#include "projections/key_directory.h"
#include "projections/request_log.h"

namespace keymeter {

struct RequestExportQuery {
  TimeUs from_us = 0;  // a UTC day start
  TimeUs to_us = 0;    // exclusive, a UTC day start
  std::string account_id;    // empty: every account
  std::optional<KeyId> key;  // only this key's requests
  bool ndjson = false;
};

std::string RequestCsvHeader();  // with its "\n"
std::string RequestRow(std::string_view account_id, const RequestRecord& r, bool ndjson);

// Calls `row(line)` for each row of the range: day by day, accounts by id within a day, each
// account's in time order. Stops at the first error of `row`. Returns the rows written.
Result<uint64_t> ExportRequests(const Store& store, const KeyDirectory& directory,
                                const RequestExportQuery& query,
                                const std::function<Status(std::string_view line)>& row);

}  // namespace keymeter
