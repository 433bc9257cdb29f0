// A key's settings (DESIGN §1): allowed sources, config, pool quota and member cap.
//
//   AllowedSourcesSet := TOO-MANY-SOURCES (over kMaxListItems IPs or domains)
//                      | INVALID-CIDR | INVALID-DOMAIN (the first bad entry) | OK: replaced
//   ConfigSet         := CONFIG-INHERITED-FROM-PARENT (a child)
//                      | CONFIG-TOO-LARGE (over kMaxListItems distinct products or settings)
//                      | OK: products sorted and deduplicated, settings sorted, last one wins
//   QuotaSet          := NOT-A-ROOT-KEY (a child) | OK: daily requests, monthly units
//   MemberCapSet      := NOT-A-CHILD-KEY (a root) | OK: the child's daily and monthly caps
//   RateLimitSet      := OK: per second, minute, hour (a root's limit its pool, a child's its own)
//   KeyExpirySet      := INVALID-EXPIRY (negative) | OK: 0 = never
//   CreditsAdded      := NOT-A-ROOT-KEY (a child) | OK: refills due first, then the units
//                        added (negative ones taken), held within int64; credits turn on
//   CreditsConfigSet  := NOT-A-ROOT-KEY (a child) | OK: on/off and the refill; a new refill
//                        period starts counting at the op's period (the first refill is the
//                        next period start)
//   AlertThresholdsSet := INVALID-THRESHOLDS (projections/alerts.h) | OK: sorted; counting for
//                        them starts at the op's day and month (from zero), or stops
//
// Nothing is written here: key_ops.cc writes the key once accepted.

#include <algorithm>
#include <map>

#include "projections/alerts.h"
#include "projections/key_ops_internal.h"
#include "projections/time_buckets.h"

namespace keymeter::key_ops {

Status SetSources(OpContext& c, KeyState& key, const fb::AllowedSourcesSet& op) {
  std::vector<std::string> ips = Strings(op.ips());
  std::vector<std::string> domains = Strings(op.domains());
  if (ips.size() > kMaxListItems || domains.size() > kMaxListItems) {
    return Refuse(Code::kTooManySources, "at most 256 addresses and 256 domains");
  }
  for (const std::string& ip : ips) {
    if (!Cidr::Parse(ip)) {
      return Refuse(Code::kInvalidCidr, "'" + ip + "' is not an IP address or CIDR block");
    }
  }
  for (const std::string& d : domains) {
    if (!IsValidDomain(d)) return Refuse(Code::kInvalidDomain, "'" + d + "' is not a domain name");
  }
  KeyExtras& x = key.mutable_extras();
  x.sources = AllowedSources(ips);
  x.ips = std::move(ips);
  x.domains = std::move(domains);
  key.updated_us = c.now;
  c.detail = "allowed sources: " + std::to_string(x.ips.size()) + " addresses, " +
             std::to_string(x.domains.size()) + " domains";
  return Status::Ok();
}

Status SetConfig(OpContext& c, KeyState& key, const fb::ConfigSet& op) {
  if (key.is_child()) {
    return Refuse(Code::kConfigInheritedFromParent,
                  "a child uses its parent's config; edit the parent");
  }
  KeyConfig config;
  config.products = Strings(op.products());
  std::sort(config.products.begin(), config.products.end());
  config.products.erase(std::unique(config.products.begin(), config.products.end()),
                        config.products.end());
  std::map<std::string, std::string> settings;  // sorted, last one wins
  if (op.settings() != nullptr) {
    for (const fb::Setting* s : *op.settings()) settings[Str(s->name())] = Str(s->value());
  }
  if (config.products.size() > kMaxListItems || settings.size() > kMaxListItems) {
    return Refuse(Code::kConfigTooLarge, "at most 256 products and 256 settings");
  }
  config.settings.assign(settings.begin(), settings.end());
  c.detail = "config: " + std::to_string(config.products.size()) + " products, " +
             std::to_string(config.settings.size()) + " settings";
  key.mutable_extras().config = std::move(config);
  key.updated_us = c.now;
  return Status::Ok();
}

Status SetQuota(OpContext& c, KeyState& key, const fb::QuotaSet& op) {
  if (key.is_child()) return Refuse(Code::kNotARootKey, "children draw on their parent's pool");
  key.daily_requests = op.daily_requests();
  key.monthly_units = op.monthly_units();
  key.updated_us = c.now;
  c.detail = "quota: " + std::to_string(key.daily_requests) + " requests/day, " +
             std::to_string(key.monthly_units) + " units/month (0 = unlimited)";
  return Status::Ok();
}

Status SetCap(OpContext& c, KeyState& key, const fb::MemberCapSet& op) {
  if (!key.is_child()) {
    return Refuse(Code::kNotAChildKey, "a cap limits a child inside its parent's pool");
  }
  key.member_cap = op.daily_requests();
  key.mutable_extras().member_monthly_units = op.monthly_units();
  key.updated_us = c.now;
  c.detail = "member cap: " + std::to_string(key.member_cap) + " requests/day, " +
             std::to_string(op.monthly_units()) + " units/month (0 = none)";
  return Status::Ok();
}

Status SetAlertThresholds(OpContext& c, KeyState& key, const fb::AlertThresholdsSet& op) {
  std::vector<uint8_t> percents;
  if (op.percents() != nullptr) percents.assign(op.percents()->begin(), op.percents()->end());
  if (Status s = CheckThresholds(percents); !s.ok()) return Refuse(s.code(), s.message());
  std::sort(percents.begin(), percents.end());
  KeyExtras& x = key.mutable_extras();
  // Counting starts now (event time); thresholds off, it stops (projections/alerts.h).
  if (x.alert_percents.empty() && !percents.empty()) {
    x.alert_day = {.start = DayStart(c.now), .count = 0};
    x.alert_month = {.start = MonthStart(c.now), .count = 0};
  } else if (percents.empty()) {
    x.alert_day = x.alert_month = {};
  }
  x.alert_percents = percents;
  if (x.alert_credits.start == 0 || percents.empty()) OpenCreditsWindow(key, c.now);
  key.updated_us = c.now;
  std::string list;
  for (uint8_t p : percents) list += (list.empty() ? "" : ", ") + std::to_string(p) + "%";
  c.detail = "alert thresholds: " + (list.empty() ? std::string("none") : list);
  return Status::Ok();
}

Status SetRateLimits(OpContext& c, KeyState& key, const fb::RateLimitSet& op) {
  key.mutable_extras().rate = {
      .per_second = op.per_second(), .per_minute = op.per_minute(), .per_hour = op.per_hour()};
  key.updated_us = c.now;
  c.detail = std::string(key.is_child() ? "member" : "pool") + " rate limits: " +
             std::to_string(op.per_second()) + "/s, " + std::to_string(op.per_minute()) +
             "/min, " + std::to_string(op.per_hour()) + "/h (0 = none)";
  return Status::Ok();
}

Status SetExpiry(OpContext& c, KeyState& key, const fb::KeyExpirySet& op) {
  if (op.expires_at_us() < 0) return Refuse(Code::kInvalidExpiry, "expires_at_us is negative");
  key.mutable_extras().expires_at_us = op.expires_at_us();
  key.updated_us = c.now;
  c.detail = op.expires_at_us() == 0 ? "expiry: never"
                                     : "expiry: " + FormatRfc3339(op.expires_at_us());
  return Status::Ok();
}

Status AddCredits(OpContext& c, KeyState& key, const fb::CreditsAdded& op) {
  if (key.is_child()) return Refuse(Code::kNotARootKey, "credits belong to a root key's pool");
  Credits& credits = key.mutable_extras().credits;
  RefillUntil(credits, c.now);
  // Turned back on: the refills of the time they were off are not owed.
  if (!credits.enabled) credits.refilled_us = RefillPeriodStart(credits, c.now);
  credits.enabled = true;
  credits.balance = SaturatingAdd(credits.balance, op.units());
  OpenCreditsWindow(key, c.now);  // a top-up: what its thresholds watch starts again
  key.updated_us = c.now;
  c.detail = "credits: " + std::string(op.units() >= 0 ? "+" : "") + std::to_string(op.units()) +
             " units, balance " + std::to_string(credits.balance);
  if (op.reason() != nullptr && op.reason()->size() > 0) c.detail += " (" + Str(op.reason()) + ")";
  return Status::Ok();
}

Status SetCredits(OpContext& c, KeyState& key, const fb::CreditsConfigSet& op) {
  if (key.is_child()) return Refuse(Code::kNotARootKey, "credits belong to a root key's pool");
  Credits& credits = key.mutable_extras().credits;
  RefillUntil(credits, c.now);
  const bool new_period = op.refill_period() != credits.refill_period || !credits.enabled;
  credits.enabled = op.enabled();
  credits.refill_units = op.refill_period() == fb::RefillPeriod::None ? 0 : op.refill_units();
  credits.refill_period = op.refill_units() == 0 ? fb::RefillPeriod::None : op.refill_period();
  credits.rollover = credits.refill_period != fb::RefillPeriod::None && op.rollover();
  if (new_period || credits.refill_period == fb::RefillPeriod::None) {
    credits.refilled_us = RefillPeriodStart(credits, c.now);
  }
  OpenCreditsWindow(key, c.now);
  key.updated_us = c.now;
  c.detail = std::string("credits ") + (credits.enabled ? "on" : "off") + ", balance " +
             std::to_string(credits.balance);
  if (credits.refill_period != fb::RefillPeriod::None) {
    c.detail += ", refill " + std::to_string(credits.refill_units) + " per " +
                (credits.refill_period == fb::RefillPeriod::Day ? "day" : "month") +
                (credits.rollover ? " with rollover" : " without rollover");
  }
  return Status::Ok();
}

}  // namespace keymeter::key_ops
