#include "cli/usage_export.h"

#include <fmt/format.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <map>

#include "engine/partition_state.h"
#include "http/json.h"

namespace keymeter {

namespace {

// The counters of `entity` summed over the query's period; nullopt when it has no cell there.
Result<std::optional<Counters>> Sum(const Store& store, const ExportQuery& q, UsageScope scope,
                                    std::string_view entity) {
  const Granularity g = q.month ? Granularity::kMonth : Granularity::kDay;
  Result<std::vector<UsageRow>> rows =
      ReadUsage(store.db(), store.cfs()[Cf::kUsage], scope, g, entity, q.from_us, q.to_us);
  if (!rows) return rows.error();
  if (rows.value().empty()) return std::optional<Counters>();
  Counters sum;
  for (const UsageRow& row : rows.value()) sum.Add(row.counters);
  return std::optional<Counters>(sum);
}

// Rows of one key, for --by key and product.
Status KeyRows(const Store& store, const KeyDirectory& directory, const ExportQuery& q,
               const KeyState& key, std::vector<ExportRow>* out) {
  const std::string id = key.id.str();
  const std::string root = directory.RootOf(key).str();
  if (q.by == ExportBy::kKey) {
    Result<std::optional<Counters>> sum = Sum(store, q, UsageScope::kKey, id);
    if (!sum) return sum.error();
    if (sum.value()) out->push_back({key.account_id, root, id, "", *sum.value()});
    return Status::Ok();
  }
  Result<std::vector<UsageRow>> rows =
      ReadUsage(store.db(), store.cfs()[Cf::kUsage], UsageScope::kProduct, Granularity::kDay, id,
                q.from_us, q.to_us);
  if (!rows) return rows.error();
  std::map<std::string, Counters> by_product;
  for (const UsageRow& row : rows.value()) by_product[row.product].Add(row.counters);
  for (const auto& [product, counters] : by_product) {
    out->push_back({key.account_id, root, id, product, counters});
  }
  return Status::Ok();
}

std::string Time(TimeUs t) { return FormatRfc3339(t); }

}  // namespace

std::optional<ExportBy> ParseExportBy(std::string_view text) {
  if (text == "account") return ExportBy::kAccount;
  if (text == "root") return ExportBy::kRoot;
  if (text == "key") return ExportBy::kKey;
  if (text == "product") return ExportBy::kProduct;
  return std::nullopt;
}

// Fills `adjusted` and `version` of `account`'s rows (the last ones of `rows`) from the month's
// corrections.
Status AddCorrections(const Store& store, const KeyDirectory& directory, const ExportQuery& q,
                      const std::string& account, std::vector<ExportRow>* rows) {
  Result<std::vector<Adjustment>> corrections =
      ReadAdjustments(store.db(), store.cfs()[Cf::kAdjustments], account, q.from_us);
  if (!corrections) return corrections.error();
  const std::map<std::string, AdjustedCounts> by_key = SumByKey(corrections.value());
  const AccountState* state = directory.FindAccount(account);
  const uint64_t version = state != nullptr ? state->MonthVersion(q.from_us) : 0;
  // Whose corrections a row holds: every key's (account), a pool's members' (root), one key's.
  auto counts = [&](const ExportRow& row) {
    AdjustedCounts sum;
    for (const auto& [key_id, c] : by_key) {
      bool in_row = row.root_key_id.empty() && row.key_id.empty();
      if (!row.key_id.empty()) {
        in_row = key_id == row.key_id;
      } else if (!row.root_key_id.empty()) {
        const std::optional<KeyId> id = KeyId::Parse(key_id);
        const KeyState* key = id ? directory.FindKey(*id) : nullptr;
        in_row = key != nullptr && directory.RootOf(*key).str() == row.root_key_id;
      }
      if (in_row) {
        sum.requests += c.requests;
        sum.units += c.units;
      }
    }
    return sum;
  };
  for (auto it = rows->rbegin(); it != rows->rend() && it->account_id == account; ++it) {
    if (!it->product.empty()) continue;
    it->adjusted = counts(*it);
    it->version = version;
  }
  return Status::Ok();
}

Result<UsageExport> CollectUsage(const Store& store, const KeyDirectory& directory,
                                 const ExportQuery& q) {
  UsageExport e{.from_us = q.from_us, .to_us = q.to_us};
  Result<std::optional<TimeUs>> watermark = StoreWatermark(store);
  if (!watermark) return watermark.error();
  e.watermark = watermark.value();
  e.complete = e.watermark.has_value() && *e.watermark >= q.to_us + q.lateness_us;

  std::vector<std::string> accounts;
  directory.ForEachAccount([&](const AccountState& a) { accounts.push_back(a.account_id); });
  std::sort(accounts.begin(), accounts.end());
  for (const std::string& account : accounts) {
    if (q.by == ExportBy::kAccount) {
      Result<std::optional<Counters>> sum = Sum(store, q, UsageScope::kAccount, account);
      if (!sum) return sum.error();
      if (sum.value()) e.rows.push_back({account, "", "", "", *sum.value()});
      continue;
    }
    for (const KeyState* key : directory.KeysOf(account)) {
      if (q.by == ExportBy::kRoot) {
        const std::string id = key->id.str();
        Result<std::optional<Counters>> sum = Sum(store, q, UsageScope::kRoot, id);
        if (!sum) return sum.error();
        if (!sum.value()) continue;
        e.rows.push_back({account, id, "", "", *sum.value()});
        if (const Credits& credits = key->extras().credits; credits.enabled) {
          e.rows.back().credits_balance = BalanceAt(credits, e.watermark.value_or(0));
        }
        continue;
      }
      if (Status s = KeyRows(store, directory, q, *key, &e.rows); !s.ok()) return s;
    }
    if (q.month) {
      if (Status s = AddCorrections(store, directory, q, account, &e.rows); !s.ok()) return s;
    }
  }
  return e;
}

std::string CsvHeader() {
  return "period_start,period_end,account_id,root_key_id,key_id,product,requests,units,"
         "errors_4xx,errors_5xx,bytes_in,bytes_out,watermark,complete,credits_balance,"
         "adjusted_requests,adjusted_units,corrected_requests,corrected_units,version\n";
}

std::string CsvRow(const UsageExport& e, const ExportRow& row) {
  const Counters& c = row.counters;
  std::string corrections = ",,,,";
  if (row.adjusted) {
    corrections = fmt::format("{},{},{},{},{}", row.adjusted->requests, row.adjusted->units,
                              int64_t(c.requests) + row.adjusted->requests,
                              int64_t(c.units) + row.adjusted->units, row.version);
  }
  return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", Time(e.from_us),
                     Time(e.to_us), CsvField(row.account_id), CsvField(row.root_key_id),
                     CsvField(row.key_id), CsvField(row.product), c.requests, c.units,
                     c.errors_4xx, c.errors_5xx, c.bytes_in, c.bytes_out,
                     e.watermark ? Time(*e.watermark) : "", e.complete ? "true" : "false",
                     row.credits_balance ? std::to_string(*row.credits_balance) : "",
                     corrections);
}

std::string NdjsonRow(const UsageExport& e, const ExportRow& row) {
  http::JsonWriter json;
  auto optional = [&json](std::string_view key, std::string_view value) {
    json.Key(key);
    if (value.empty()) {
      json.Null();
    } else {
      json.String(value);
    }
  };
  const Counters& c = row.counters;
  json.BeginObject();
  json.Key("period_start").String(Time(e.from_us));
  json.Key("period_end").String(Time(e.to_us));
  json.Key("account_id").String(row.account_id);
  optional("root_key_id", row.root_key_id);
  optional("key_id", row.key_id);
  optional("product", row.product);
  json.Key("requests").Uint(c.requests).Key("units").Uint(c.units);
  json.Key("errors_4xx").Uint(c.errors_4xx).Key("errors_5xx").Uint(c.errors_5xx);
  json.Key("bytes_in").Uint(c.bytes_in).Key("bytes_out").Uint(c.bytes_out);
  optional("watermark", e.watermark ? Time(*e.watermark) : "");
  json.Key("complete").Bool(e.complete);
  json.Key("credits_balance");
  row.credits_balance ? json.Int(*row.credits_balance) : json.Null();
  if (row.adjusted) {
    json.Key("adjusted_requests").Int(row.adjusted->requests);
    json.Key("adjusted_units").Int(row.adjusted->units);
    json.Key("corrected_requests").Int(int64_t(c.requests) + row.adjusted->requests);
    json.Key("corrected_units").Int(int64_t(c.units) + row.adjusted->units);
    json.Key("version").Uint(row.version);
  } else {
    for (const char* name : {"adjusted_requests", "adjusted_units", "corrected_requests",
                             "corrected_units", "version"}) {
      json.Key(name).Null();
    }
  }
  json.EndObject();
  return json.Take() + "\n";
}

}  // namespace keymeter
