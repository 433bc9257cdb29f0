#include "engine/request_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "projections/column_families.h"
#include "projections/time_buckets.h"
#include "schemas/json_writer.h"
#include "schemas/text.h"

namespace keymeter {

std::string RequestCsvHeader() {
  return "time,account_id,key_id,request_id,product,units,status,bytes_in,bytes_out,latency_us,"
         "ip,gateway\n";
}

std::string RequestRow(std::string_view account_id, const RequestRecord& r, bool ndjson) {
  const std::string time = FormatRfc3339(r.time_us, true);
  const std::string id = RequestIdText(r.request_id);
  if (!ndjson) {
    return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", time, CsvField(account_id),
                       r.key.str(), id, CsvField(r.product), r.units, r.status, r.bytes_in,
                       r.bytes_out, r.latency_us, CsvField(r.client_ip), CsvField(r.gateway_id));
  }
  JsonWriter json;
  json.BeginObject();
  json.Key("time").String(time).Key("account_id").String(account_id);
  json.Key("key_id").String(r.key.str()).Key("request_id").String(id);
  json.Key("product").String(r.product).Key("units").Uint(r.units).Key("status").Uint(r.status);
  json.Key("bytes_in").Uint(r.bytes_in).Key("bytes_out").Uint(r.bytes_out);
  json.Key("latency_us").Uint(r.latency_us).Key("ip").String(r.client_ip);
  json.Key("gateway").String(r.gateway_id);
  json.EndObject();
  return json.Take() + "\n";
}

Result<uint64_t> ExportRequests(const Store& store, const KeyDirectory& directory,
                                const RequestExportQuery& q,
                                const std::function<Status(std::string_view line)>& row) {
  std::vector<std::string> accounts;
  if (!q.account_id.empty()) {
    accounts.push_back(q.account_id);
  } else {
    directory.ForEachAccount([&](const AccountState& a) { accounts.push_back(a.account_id); });
    std::sort(accounts.begin(), accounts.end());
  }
  uint64_t rows = 0;
  Status failed;
  for (TimeUs d = DayStart(q.from_us); d < q.to_us; d += kMicrosPerDay) {
    for (const std::string& account : accounts) {
      Status scanned = ScanRequests(
          store.db(), store.cfs()[Cf::kRequests], account, d, d + kMicrosPerDay,
          [&](const RequestRecord& r) {
            if (!failed.ok() || (q.key && r.key != *q.key)) return;
            failed = row(RequestRow(account, r, q.ndjson));
            ++rows;
          });
      if (!scanned.ok()) return scanned;
      if (!failed.ok()) return failed;
    }
  }
  return rows;
}

}  // namespace keymeter
