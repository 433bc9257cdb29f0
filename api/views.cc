#include "api/views.h"

#include <shared_mutex>

#include "engine/pipeline.h"
#include "projections/key_directory.h"
#include "projections/time_buckets.h"
#include "schemas/envelope.h"

namespace keymeter {

namespace {

void WriteStrings(http::JsonWriter& json, const std::vector<std::string>& items) {
  json.BeginArray();
  for (const std::string& s : items) json.String(s);
  json.EndArray();
}

void WriteOptionalTime(http::JsonWriter& json, TimeUs t) {
  if (t == 0) {
    json.Null();
  } else {
    json.String(FormatRfc3339(t));
  }
}

void WriteOptionalId(http::JsonWriter& json, const std::string& id) {
  if (id.empty()) {
    json.Null();
  } else {
    json.String(id);
  }
}

}  // namespace

KeyView ViewOf(const KeyDirectory& directory, const KeyState& key, TimeUs now) {
  KeyView v;
  v.key_id = key.id.str();
  v.account_id = key.account_id;
  v.label = key.label;
  v.status = key.status;
  v.parent = key.parent.str();
  v.root = directory.RootOf(key).str();
  v.config = directory.EffectiveConfig(key);
  if (key.is_child() && directory.FindKey(key.parent) != nullptr) v.inherited_from = v.parent;
  v.ips = key.extras().ips;
  v.domains = key.extras().domains;
  v.daily_requests = key.daily_requests;
  v.monthly_units = key.monthly_units;
  v.member_cap = key.member_cap;
  v.children = key.children;
  v.created_us = key.created_us;
  v.updated_us = key.updated_us;
  v.grace_until_us = key.extras().has_old_secret ? key.extras().grace_until_us : 0;
  v.member_monthly_units = key.extras().member_monthly_units;
  v.rate = key.extras().rate;
  v.expires_at_us = key.extras().expires_at_us;
  v.effective_expires_at_us = directory.ExpiresAt(key);
  v.credits = key.extras().credits;
  v.credits_balance = BalanceAt(v.credits, now);
  v.alert_percents = key.extras().alert_percents;
  return v;
}

std::optional<KeyView> FindAccountKey(Pipeline& pipeline, std::string_view account_id,
                                      std::string_view id_text) {
  const std::optional<KeyId> id = KeyId::Parse(id_text);
  if (!id) return std::nullopt;
  std::optional<KeyView> view = FindKeyView(pipeline, *id);
  if (!view || view->account_id != account_id) return std::nullopt;
  return view;
}

std::optional<KeyView> FindKeyView(Pipeline& pipeline, KeyId id) {
  std::shared_lock lock(pipeline.projector().state_mutex());
  const KeyState* key = pipeline.directory().FindKey(id);
  if (key == nullptr) return std::nullopt;
  return ViewOf(pipeline.directory(), *key);
}

std::vector<KeyView> AccountKeys(Pipeline& pipeline, std::string_view account_id) {
  std::shared_lock lock(pipeline.projector().state_mutex());
  std::vector<KeyView> out;
  for (const KeyState* key : pipeline.directory().KeysOf(account_id)) {
    out.push_back(ViewOf(pipeline.directory(), *key));
  }
  return out;
}

void WriteKey(http::JsonWriter& json, const KeyView& key, KeyDetail detail,
              const std::function<void(http::JsonWriter&)>& extra) {
  json.BeginObject();
  json.Key("key_id").String(key.key_id);
  json.Key("label").String(key.label);
  json.Key("status").String(StatusName(key.status));
  json.Key("parent");
  WriteOptionalId(json, key.parent);
  json.Key("root").String(key.root);
  json.Key("children").Uint(key.children);
  json.Key("created").String(FormatRfc3339(key.created_us));
  json.Key("updated").String(FormatRfc3339(key.updated_us));
  json.Key("config").BeginObject();
  json.Key("products");
  WriteStrings(json, key.config.products);
  json.Key("settings").BeginObject();
  for (const auto& [name, value] : key.config.settings) json.Key(name).String(value);
  json.EndObject();
  json.Key("inherited_from");
  WriteOptionalId(json, key.inherited_from);
  json.EndObject();
  json.Key("allowed_sources").BeginObject();
  json.Key("ips");
  WriteStrings(json, key.ips);
  json.Key("domains");
  WriteStrings(json, key.domains);
  json.EndObject();
  json.Key("rotation_grace_until");
  WriteOptionalTime(json, key.grace_until_us);
  json.Key("expires_at");
  WriteOptionalTime(json, key.expires_at_us);
  json.Key("effective_expires_at");
  WriteOptionalTime(json, key.effective_expires_at_us);
  if (detail == KeyDetail::kAdmin) {
    json.Key("quota");
    if (key.is_child()) {
      json.Null();
    } else {
      json.BeginObject()
          .Key("daily_requests")
          .Uint(key.daily_requests)
          .Key("monthly_units")
          .Uint(key.monthly_units)
          .EndObject();
    }
    json.Key("cap");
    if (key.is_child()) {
      json.BeginObject()
          .Key("daily_requests")
          .Uint(key.member_cap)
          .Key("monthly_units")
          .Uint(key.member_monthly_units)
          .EndObject();
    } else {
      json.Null();
    }
    WriteRateLimits(json, key.rate);
    json.Key("credits");
    if (key.is_child() || (!key.credits.enabled && key.credits == Credits())) {
      json.Null();
    } else {
      WriteCredits(json, key.credits, key.credits_balance);
    }
    json.Key("alert_thresholds").BeginArray();
    for (uint8_t p : key.alert_percents) json.Uint(p);
    json.EndArray();
  }
  if (extra) extra(json);
  json.EndObject();
}

void WriteRateLimits(http::JsonWriter& json, const RateLimits& rate) {
  json.Key("rate_limits")
      .BeginObject()
      .Key("per_second")
      .Uint(rate.per_second)
      .Key("per_minute")
      .Uint(rate.per_minute)
      .Key("per_hour")
      .Uint(rate.per_hour)
      .EndObject();
}

void WriteCredits(http::JsonWriter& json, const Credits& credits, int64_t balance) {
  json.BeginObject().Key("enabled").Bool(credits.enabled).Key("balance").Int(balance);
  json.Key("refill");
  if (credits.refill_period == fb::RefillPeriod::None) {
    json.Null();
  } else {
    json.BeginObject()
        .Key("units")
        .Uint(credits.refill_units)
        .Key("period")
        .String(credits.refill_period == fb::RefillPeriod::Day ? "day" : "month")
        .Key("rollover")
        .Bool(credits.rollover)
        .EndObject();
  }
  json.Key("next_refill");
  WriteOptionalTime(json, NextRefill(credits, NowUs()));
  json.EndObject();
}

void SetFreshnessHeaders(const Freshness& f, http::Response& response) {
  if (f.watermark_us != 0) response.SetHeader("X-Keymeter-Watermark", FormatRfc3339(f.watermark_us, true));
  response.SetHeader("X-Keymeter-Lag", std::to_string(f.lag_messages));
}

void WriteFreshness(http::JsonWriter& json, const Freshness& f) {
  json.BeginObject().Key("partition");
  f.partition >= 0 ? json.Int(f.partition) : json.Null();
  json.Key("watermark");
  f.watermark_us != 0 ? json.String(FormatRfc3339(f.watermark_us, true)) : json.Null();
  json.Key("lag_messages").Int(f.lag_messages).EndObject();
}

void WriteCounterFields(http::JsonWriter& json, const Counters& c) {
  json.Key("requests").Uint(c.requests);
  json.Key("units").Uint(c.units);
  json.Key("errors_4xx").Uint(c.errors_4xx);
  json.Key("errors_5xx").Uint(c.errors_5xx);
  json.Key("bytes_in").Uint(c.bytes_in);
  json.Key("bytes_out").Uint(c.bytes_out);
}

std::string_view ActorKindName(fb::ActorKind kind) {
  switch (kind) {
    case fb::ActorKind::System:
      return "system";
    case fb::ActorKind::Operator:
      return "operator";
    case fb::ActorKind::AccountAdmin:
      return "account_admin";
    case fb::ActorKind::Member:
      return "member";
  }
  return "unknown";
}

}  // namespace keymeter
