#include "api/usage.h"

#include "api/context.h"
#include "api/params.h"
#include "engine/pipeline.h"
#include "http/json.h"
#include "schemas/envelope.h"

namespace keymeter {

namespace {

using Buckets = std::map<TimeUs, Counters>;

std::string_view ScopeName(UsageScope scope) {
  switch (scope) {
    case UsageScope::kAccount:
      return "account";
    case UsageScope::kRoot:
      return "root";
    case UsageScope::kKey:
    case UsageScope::kProduct:
      break;
  }
  return "key";
}

Counters Total(const Buckets& buckets) {
  Counters total;
  for (const auto& [start, c] : buckets) total.Add(c);
  return total;
}

void WriteBuckets(http::JsonWriter& json, const Buckets& buckets) {
  json.Key("totals").BeginObject();
  WriteCounterFields(json, Total(buckets));
  json.EndObject();
  json.Key("buckets").BeginArray();
  for (const auto& [start, c] : buckets) {
    json.BeginObject().Key("start").String(FormatRfc3339(start));
    WriteCounterFields(json, c);
    json.EndObject();
  }
  json.EndArray();
}

Result<Buckets> Read(Pipeline& pipeline, UsageScope scope, Granularity g, const std::string& entity,
                     TimeUs from, TimeUs to) {
  Result<std::vector<UsageRow>> rows = ReadUsage(
      pipeline.store().db(), pipeline.store().cfs()[Cf::kUsage], scope, g, entity, from, to);
  if (!rows) return rows.error();
  Buckets out;
  for (const UsageRow& row : rows.value()) out[row.bucket_start_us].Add(row.counters);
  return out;
}

}  // namespace

Status ParseUsageParams(const http::Request& request, bool allow_group_by, UsageQuery* q) {
  Result<Granularity> g = GranularityParam(request, Granularity::kDay);
  if (!g) return g.error();
  q->granularity = g.value();
  Result<TimeUs> to = TimeParam(request, "to", NowUs());
  if (!to) return to.error();
  const TimeUs span = q->granularity == Granularity::kHour  ? kMicrosPerDay
                      : q->granularity == Granularity::kDay ? 30 * kMicrosPerDay
                                                            : 365 * kMicrosPerDay;
  Result<TimeUs> from = TimeParam(request, "from", to.value() - span);
  if (!from) return from.error();
  if (from.value() >= to.value()) return Status(Code::kInvalidField, "from: must be before to");
  q->from_us = BucketStart(q->granularity, from.value());
  q->to_us = to.value();
  q->group_by = UsageQuery::GroupBy::kNone;
  if (std::optional<std::string_view> group = Param(request, "group_by")) {
    if (!allow_group_by) return Status(Code::kInvalidField, "group_by: not taken here");
    if (*group == "key") {
      q->group_by = UsageQuery::GroupBy::kKey;
    } else if (*group == "product") {
      q->group_by = UsageQuery::GroupBy::kProduct;
      if (q->granularity != Granularity::kDay) {
        return Status(Code::kInvalidField,
                      "group_by: product usage is kept per day; use "
                      "granularity=day");
      }
    } else {
      return Status(Code::kInvalidField, "group_by: must be key or product");
    }
  }
  return Status::Ok();
}

Result<std::map<std::string, Counters>> ProductTotals(Pipeline& pipeline,
                                                      const std::vector<std::string>& key_ids,
                                                      TimeUs from_us, TimeUs to_us) {
  std::map<std::string, Counters> out;
  for (const std::string& key : key_ids) {
    Result<std::vector<UsageRow>> rows =
        ReadUsage(pipeline.store().db(), pipeline.store().cfs()[Cf::kUsage], UsageScope::kProduct,
                  Granularity::kDay, key, from_us, to_us);
    if (!rows) return rows.error();
    for (const UsageRow& row : rows.value()) out[row.product].Add(row.counters);
  }
  return out;
}

std::vector<KeyView> PoolMembers(const std::vector<KeyView>& all, const std::string& root) {
  std::vector<KeyView> out;
  for (const KeyView& k : all) {
    if (k.root == root) out.push_back(k);
  }
  return out;
}

void AnswerUsage(Pipeline& pipeline, const UsageQuery& q, http::Response& response) {
  const auto fail = [&](const Status& s) { SetStatusError(response, 500, s); };
  http::JsonWriter json;
  json.BeginObject();
  json.Key("scope").String(ScopeName(q.scope));
  json.Key("account_id").String(q.account_id);
  json.Key("key_id");
  if (q.key_id.empty()) {
    json.Null();
  } else {
    json.String(q.key_id);
  }
  json.Key("granularity").String(GranularityName(q.granularity));
  json.Key("from").String(FormatRfc3339(q.from_us));
  json.Key("to").String(FormatRfc3339(q.to_us));
  const std::string& entity = q.scope == UsageScope::kAccount ? q.account_id : q.key_id;
  switch (q.group_by) {
    case UsageQuery::GroupBy::kNone: {
      Result<Buckets> buckets = Read(pipeline, q.scope, q.granularity, entity, q.from_us, q.to_us);
      if (!buckets) return fail(buckets.error());
      WriteBuckets(json, buckets.value());
      break;
    }
    case UsageQuery::GroupBy::kKey: {
      Counters total;
      http::JsonWriter keys;
      keys.BeginArray();
      for (const KeyView& k : q.members) {
        Result<Buckets> buckets =
            Read(pipeline, UsageScope::kKey, q.granularity, k.key_id, q.from_us, q.to_us);
        if (!buckets) return fail(buckets.error());
        total.Add(Total(buckets.value()));
        keys.BeginObject().Key("key_id").String(k.key_id).Key("label").String(k.label);
        keys.Key("parent");
        if (k.parent.empty()) {
          keys.Null();
        } else {
          keys.String(k.parent);
        }
        keys.Key("status").String(StatusName(k.status));
        WriteBuckets(keys, buckets.value());
        keys.EndObject();
      }
      keys.EndArray();
      json.Key("totals").BeginObject();
      WriteCounterFields(json, total);
      json.EndObject();
      json.Key("group_by").String("key").Key("keys").Raw(keys.str());
      break;
    }
    case UsageQuery::GroupBy::kProduct: {
      std::map<std::string, Buckets> products;
      for (const KeyView& k : q.members) {
        Result<std::vector<UsageRow>> rows =
            ReadUsage(pipeline.store().db(), pipeline.store().cfs()[Cf::kUsage],
                      UsageScope::kProduct, Granularity::kDay, k.key_id, q.from_us, q.to_us);
        if (!rows) return fail(rows.error());
        for (const UsageRow& row : rows.value()) {
          products[row.product][row.bucket_start_us].Add(row.counters);
        }
      }
      Counters total;
      for (const auto& [product, buckets] : products) total.Add(Total(buckets));
      json.Key("totals").BeginObject();
      WriteCounterFields(json, total);
      json.EndObject();
      json.Key("group_by").String("product").Key("products").BeginArray();
      for (const auto& [product, buckets] : products) {
        json.BeginObject().Key("product").String(product);
        WriteBuckets(json, buckets);
        json.EndObject();
      }
      json.EndArray();
      break;
    }
  }
  json.EndObject();
  http::SetJson(response, 200, json.Take());
}

}  // namespace keymeter
