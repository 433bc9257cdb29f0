// GET /v1/billing/usage?month=YYYY-MM (api/operator.h): one month's usage per account,
// root key (its pool), member and product, and whether the month is closed.

#include <simdjson.h>

#include <map>
#include <shared_mutex>

#include "api/internal.h"
#include "api/params.h"
#include "api/usage.h"
#include "cluster/cluster.h"
#include "engine/partition_state.h"
#include "engine/pipeline.h"
#include "http/json.h"
#include "projections/adjustments.h"
#include "projections/key_directory.h"
#include "schemas/civil_time.h"
#include "schemas/envelope.h"

namespace keymeter {

namespace {

struct AccountSnapshot {
  std::string account_id;
  std::string name;
  std::vector<KeyView> keys;
  std::vector<std::pair<TimeUs, uint64_t>> adjusted_months;  // AccountState's
};

// Every account (in a cluster: of the partitions this member owns), by id.
std::vector<AccountSnapshot> Snapshot(Pipeline& pipeline, const Cluster* cluster) {
  std::vector<AccountSnapshot> out;
  std::shared_lock lock(pipeline.projector().state_mutex());
  const KeyDirectory& directory = pipeline.directory();
  directory.ForEachAccount([&](const AccountState& account) {
    if (cluster != nullptr && !cluster->Owns(cluster->PartitionOf(account.account_id))) return;
    AccountSnapshot a{account.account_id, account.name.str(), {}, account.adjusted_months()};
    for (const KeyState* key : directory.KeysOf(account.account_id)) {
      a.keys.push_back(ViewOf(directory, *key));
    }
    out.push_back(std::move(a));
  });
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.account_id < b.account_id; });
  return out;
}

// The month's counters of one cell and its corrections: writes "totals" (as counted), "adjusted"
// (the corrections' sums) and "corrected" (the two added).
Status WriteTotals(Pipeline& pipeline, http::JsonWriter& json, UsageScope scope,
                   const std::string& entity, TimeUs month, const AdjustedCounts& adjusted) {
  Result<Counters> cell = ReadUsageCell(pipeline.store().db(), pipeline.store().cfs()[Cf::kUsage],
                                        scope, Granularity::kMonth, entity, month);
  if (!cell) return cell.error();
  json.Key("totals").BeginObject();
  WriteCounterFields(json, cell.value());
  json.EndObject();
  json.Key("adjusted").BeginObject().Key("requests").Int(adjusted.requests);
  json.Key("units").Int(adjusted.units).EndObject();
  json.Key("corrected").BeginObject();
  json.Key("requests").Int(int64_t(cell.value().requests) + adjusted.requests);
  json.Key("units").Int(int64_t(cell.value().units) + adjusted.units).EndObject();
  return Status::Ok();
}

// The sums of `keys`' corrections.
AdjustedCounts SumOf(const std::map<std::string, AdjustedCounts>& by_key,
                     const std::vector<KeyView>& keys) {
  AdjustedCounts sum;
  for (const KeyView& k : keys) {
    auto it = by_key.find(k.key_id);
    if (it == by_key.end()) continue;
    sum.requests += it->second.requests;
    sum.units += it->second.units;
  }
  return sum;
}

Status WriteMember(Pipeline& pipeline, http::JsonWriter& json, const KeyView& key, TimeUs from,
                   TimeUs to, const std::map<std::string, AdjustedCounts>& adjusted) {
  json.BeginObject().Key("key_id").String(key.key_id).Key("label").String(key.label);
  json.Key("status").String(StatusName(key.status));
  if (Status s = WriteTotals(pipeline, json, UsageScope::kKey, key.key_id, from,
                             SumOf(adjusted, {key}));
      !s.ok()) {
    return s;
  }
  Result<std::map<std::string, Counters>> products =
      ProductTotals(pipeline, {key.key_id}, from, to);
  if (!products) return products.error();
  json.Key("products").BeginArray();
  for (const auto& [product, counters] : products.value()) {
    json.BeginObject().Key("product").String(product);
    WriteCounterFields(json, counters);
    json.EndObject();
  }
  json.EndArray().EndObject();
  return Status::Ok();
}

Status WriteAccount(Pipeline& pipeline, http::JsonWriter& json, const AccountSnapshot& account,
                    TimeUs from, TimeUs to) {
  json.BeginObject().Key("account_id").String(account.account_id);
  json.Key("name").String(account.name);
  // Corrections of the month (after it closed), kept apart from what was counted.
  Result<std::vector<Adjustment>> corrections =
      ReadAdjustments(pipeline.store().db(), pipeline.store().cfs()[Cf::kAdjustments],
                      account.account_id, from);
  if (!corrections) return corrections.error();
  const std::map<std::string, AdjustedCounts> adjusted = SumByKey(corrections.value());
  uint64_t version = 0;
  for (const auto& [month, v] : account.adjusted_months) version = month == from ? v : version;
  json.Key("version").Uint(version);
  Status s = WriteTotals(pipeline, json, UsageScope::kAccount, account.account_id, from,
                         SumOf(adjusted, account.keys));
  if (!s.ok()) return s;
  json.Key("root_keys").BeginArray();
  for (const KeyView& root : account.keys) {
    if (root.root != root.key_id) continue;
    json.BeginObject().Key("key_id").String(root.key_id).Key("label").String(root.label);
    json.Key("status").String(StatusName(root.status));
    const std::vector<KeyView> members = PoolMembers(account.keys, root.key_id);
    s = WriteTotals(pipeline, json, UsageScope::kRoot, root.key_id, from, SumOf(adjusted, members));
    if (!s.ok()) return s;
    json.Key("credits");  // the pool's balance now (the view's), its refill; null without credits
    if (root.credits.enabled) {
      WriteCredits(json, root.credits, root.credits_balance);
    } else {
      json.Null();
    }
    json.Key("members").BeginArray();
    for (const KeyView& member : members) {
      if (s = WriteMember(pipeline, json, member, from, to, adjusted); !s.ok()) return s;
    }
    json.EndArray().EndObject();
  }
  json.EndArray().EndObject();
  return Status::Ok();
}

void BillingUsage(ApiContext& api, const http::Request& request, http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  std::optional<std::string_view> month_text = Param(request, "month");
  if (!month_text) {
    return http::SetError(response, 400, Code::kMissingField, "month: give the month as YYYY-MM");
  }
  const std::optional<TimeUs> from = ParseMonth(*month_text);
  if (!from) return http::SetError(response, 400, Code::kInvalidField, "month: must be YYYY-MM");
  const TimeUs to = NextMonthStart(*from);
  // The watermark as the store holds it, read before the figures (from the same store): the
  // in-memory one may be ahead of what is committed, and "complete" must never claim more than
  // the numbers below hold. A month complete here is closed in every partition: the projector
  // dead-letters its late events TOO-LATE (ProjectorOptions::month_close_lateness_us).
  Result<std::optional<TimeUs>> stored = StoreWatermark(api.pipeline.store());
  if (!stored) return SetStatusError(response, 500, stored.error());
  const std::optional<TimeUs> watermark = stored.value();
  const bool complete = watermark && *watermark >= to + api.options.billing_lateness_us;
  const std::vector<AccountSnapshot> accounts =
      Snapshot(api.pipeline, api.serve.cluster.load(std::memory_order_acquire));

  http::JsonWriter json;
  json.BeginObject().Key("month").String(*month_text);
  json.Key("from").String(FormatRfc3339(*from)).Key("to").String(FormatRfc3339(to));
  json.Key("watermark");
  if (watermark) {
    json.String(FormatRfc3339(*watermark, true));
  } else {
    json.Null();
  }
  json.Key("complete").Bool(complete);
  json.Key("allowed_lateness_seconds").Int(api.options.billing_lateness_us / kMicrosPerSecond);
  json.Key("accounts").BeginArray();
  for (const AccountSnapshot& account : accounts) {
    if (Status s = WriteAccount(api.pipeline, json, account, *from, to); !s.ok()) {
      return SetStatusError(response, 500, s);
    }
  }
  json.EndArray().EndObject();
  http::SetJson(response, 200, json.Take());
}

// The owner of each partition now, for telling whether ownership moved during a gather.
std::vector<std::string> Owners(Cluster& cluster) {
  std::vector<std::string> owners;
  for (int32_t p = 0; p < cluster.membership().partitions(); ++p) {
    std::optional<MemberRecord> peer = cluster.membership().PeerOwning(p);
    owners.push_back(cluster.Owns(p) ? cluster.member_id() : peer ? peer->member_id : "");
  }
  return owners;
}

// One answer of the whole cluster from the answers of its owners, each for its own accounts:
// the accounts together (by id), the oldest watermark, complete when every part with a
// watermark is.
std::optional<std::string> MergeBilling(const std::vector<std::string>& parts) {
  simdjson::dom::parser parser;
  std::map<std::string, std::string> accounts;  // id → its JSON
  std::string month, from, to, watermark;
  bool complete = true;
  int64_t lateness = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    simdjson::dom::object root;
    if (parser.parse(parts[i]).get(root) != simdjson::SUCCESS) return std::nullopt;
    std::string_view text;
    bool part_complete = false;
    if (root["month"].get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
    month = text;
    if (root["from"].get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
    from = text;
    if (root["to"].get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
    to = text;
    if (root["complete"].get_bool().get(part_complete) != simdjson::SUCCESS ||
        root["allowed_lateness_seconds"].get_int64().get(lateness) != simdjson::SUCCESS) {
      return std::nullopt;
    }
    // As StoreWatermark does in one store: partitions without a watermark (no request events
    // yet) are not counted.
    if (root["watermark"].get_string().get(text) == simdjson::SUCCESS) {
      if (watermark.empty() || text < watermark) watermark = text;
      complete = complete && part_complete;
    }
    simdjson::dom::array list;
    if (root["accounts"].get_array().get(list) != simdjson::SUCCESS) return std::nullopt;
    for (simdjson::dom::element a : list) {
      if (a["account_id"].get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
      accounts.emplace(std::string(text), simdjson::minify(a));
    }
  }
  http::JsonWriter json;
  json.BeginObject().Key("month").String(month).Key("from").String(from).Key("to").String(to);
  json.Key("watermark");
  watermark.empty() ? json.Null() : json.String(watermark);
  json.Key("complete").Bool(complete && !watermark.empty()).Key("allowed_lateness_seconds").Int(lateness);
  json.Key("accounts").BeginArray();
  for (const auto& [id, raw] : accounts) json.Raw(raw);
  json.EndArray().EndObject();
  return json.Take();
}

// In a cluster, the month of every account: this member's answer for its partitions and each
// other owner's for theirs, merged; 503 OWNER-UNAVAILABLE rather than a partial bill.
void GatherBilling(ApiContext& api, Cluster& cluster, const http::Request& request,
                   http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  const std::vector<std::string> owners = Owners(cluster);
  auto unavailable = [&response](std::string why) {
    SetStatusError(response, 503, Status(Code::kOwnerUnavailable, std::move(why)));
    response.SetHeader("Retry-After", "1");
  };
  if (!cluster.Settled()) return unavailable("a partition has no owner or its owner is catching up");
  http::Response local;
  BillingUsage(api, request, local);
  if (local.status != 200) {
    response = std::move(local);
    return;
  }
  std::vector<std::string> parts = {std::move(local.body)};
  for (const MemberRecord& peer : cluster.membership().LivePeers()) {
    if (peer.owned.empty()) continue;
    Result<http::ClientReply> reply = cluster.Forward(peer.url, request, request.remote_address);
    if (!reply || reply.value().status != 200) {
      return unavailable("member " + peer.member_id + " did not answer its part");
    }
    parts.push_back(std::move(reply.value().body));
  }
  if (Owners(cluster) != owners) return unavailable("partitions moved while the bill was read");
  std::optional<std::string> merged = MergeBilling(parts);
  if (!merged) return SetStatusError(response, 500, Status(Code::kInternal, "merging the parts"));
  http::SetJson(response, 200, std::move(*merged));
}

}  // namespace

void RegisterBillingRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("GET", "/v1/billing/usage",
             [api](const http::Request& request, http::Response& response) {
               Cluster* cluster = api->serve.cluster.load(std::memory_order_acquire);
               if (cluster != nullptr && !cluster->FromPeer(request)) {
                 return GatherBilling(*api, *cluster, request, response);
               }
               BillingUsage(*api, request, response);
             });
}

}  // namespace keymeter
