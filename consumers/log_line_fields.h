// Internal to log_line.cc: the fields of every op of schemas/events.fbs, named once and visited
// both ways (written to a log line, read back from one). Add a field here when one is added to
// the schema; log_line_test fails for an op whose fields are not all visited (it round-trips a
// fully populated instance of every op).
//
// A visitor `v` is called as v("name", field) for each field, in schema order, with the field of
// the op's object-API type (fb::KeyIssuedT...): std::string, std::vector<std::string>, integers,
// std::vector<uint8_t>, bool, the enums, std::unique_ptr<fb::Sha256>, std::unique_ptr<fb::RequestId> and the settings.

#pragma once

#include "schemas/events_generated.h"

namespace keymeter::log_line_internal {

template <class V> void Fields(V& v, fb::AccountCreatedT& o) {
  v("name", o.name);
  v("admin_token_hash", o.admin_token_hash);
  v("require_confirmation", o.require_confirmation);
}
template <class V> void Fields(V& v, fb::KeyIssuedT& o) {
  v("key_id", o.key_id);
  v("secret_hash", o.secret_hash);
  v("label", o.label);
  v("parent_key_id", o.parent_key_id);
  v("status", o.status);
  v("expires_at_us", o.expires_at_us);
}
template <class V> void Fields(V& v, fb::ParentSetT& o) {
  v("key_id", o.key_id);
  v("parent_key_id", o.parent_key_id);
}
template <class V> void Fields(V& v, fb::KeyRotatedT& o) {
  v("key_id", o.key_id);
  v("secret_hash", o.secret_hash);
  v("grace_until_us", o.grace_until_us);
}
template <class V> void Fields(V& v, fb::KeySuspendedT& o) { v("key_id", o.key_id); }
template <class V> void Fields(V& v, fb::KeyActivatedT& o) { v("key_id", o.key_id); }
template <class V> void Fields(V& v, fb::KeyConfirmedT& o) { v("key_id", o.key_id); }
template <class V> void Fields(V& v, fb::KeyDeletedT& o) { v("key_id", o.key_id); }
template <class V> void Fields(V& v, fb::AllowedSourcesSetT& o) {
  v("key_id", o.key_id);
  v("ips", o.ips);
  v("domains", o.domains);
}
template <class V> void Fields(V& v, fb::ConfigSetT& o) {
  v("key_id", o.key_id);
  v("products", o.products);
  v("settings", o.settings);
}
template <class V> void Fields(V& v, fb::QuotaSetT& o) {
  v("key_id", o.key_id);
  v("daily_requests", o.daily_requests);
  v("monthly_units", o.monthly_units);
}
template <class V> void Fields(V& v, fb::MemberCapSetT& o) {
  v("key_id", o.key_id);
  v("daily_requests", o.daily_requests);
  v("monthly_units", o.monthly_units);
}
template <class V> void Fields(V& v, fb::AccountConfigSetT& o) {
  v("require_confirmation", o.require_confirmation);
}
template <class V> void Fields(V& v, fb::RequestEventT& o) {
  v("request_id", o.request_id);
  v("key_id", o.key_id);
  v("account_id", o.account_id);
  v("time_us", o.time_us);
  v("product", o.product);
  v("units", o.units);
  v("status", o.status);
  v("bytes_in", o.bytes_in);
  v("bytes_out", o.bytes_out);
  v("latency_us", o.latency_us);
  v("client_ip", o.client_ip);
  v("gateway_id", o.gateway_id);
}
template <class V> void Fields(V& v, fb::AdminTokenSetT& o) {
  v("admin_token_hash", o.admin_token_hash);
}
template <class V> void Fields(V& v, fb::AccountStatusSetT& o) { v("suspended", o.suspended); }
template <class V> void Fields(V& v, fb::GatewayCreatedT& o) {
  v("gateway_id", o.gateway_id);
  v("name", o.name);
  v("token_hash", o.token_hash);
}
template <class V> void Fields(V& v, fb::GatewayRevokedT& o) { v("gateway_id", o.gateway_id); }
template <class V> void Fields(V& v, fb::RateLimitSetT& o) {
  v("key_id", o.key_id);
  v("per_second", o.per_second);
  v("per_minute", o.per_minute);
  v("per_hour", o.per_hour);
}
template <class V> void Fields(V& v, fb::KeyExpirySetT& o) {
  v("key_id", o.key_id);
  v("expires_at_us", o.expires_at_us);
}
template <class V> void Fields(V& v, fb::CreditsAddedT& o) {
  v("key_id", o.key_id);
  v("units", o.units);
  v("reason", o.reason);
}
template <class V> void Fields(V& v, fb::CreditsConfigSetT& o) {
  v("key_id", o.key_id);
  v("enabled", o.enabled);
  v("refill_units", o.refill_units);
  v("refill_period", o.refill_period);
  v("rollover", o.rollover);
}
template <class V> void Fields(V& v, fb::DeadLetterRedrivenT& o) {
  v("partition", o.partition);
  v("offset", o.offset);
  v("reason", o.reason);
  v("op", o.op);
  v("key_id", o.key_id);
  v("request_id", o.request_id);
}

template <class V> void Fields(V& v, fb::AlertThresholdsSetT& o) {
  v("key_id", o.key_id);
  v("percents", o.percents);
}

template <class V> void Fields(V& v, fb::UsageAdjustedT& o) {
  v("key_id", o.key_id);
  v("month_start_us", o.month_start_us);
  v("requests", o.requests);
  v("units", o.units);
  v("reason", o.reason);
}

template <class V> void Fields(V& v, fb::WebhookCreatedT& o) {
  v("webhook_id", o.webhook_id);
  v("url", o.url);
  v("events", o.events);
}
template <class V> void Fields(V& v, fb::WebhookDeletedT& o) { v("webhook_id", o.webhook_id); }
template <class V> void Fields(V& v, fb::WebhookAttemptedT& o) {
  v("webhook_id", o.webhook_id);
  v("alert_id", o.alert_id);
  v("alert_time_us", o.alert_time_us);
  v("attempt", o.attempt);
  v("status", o.status);
  v("error", o.error);
  v("delivered", o.delivered);
  v("next_attempt_us", o.next_attempt_us);
}
template <class V> void Fields(V& v, fb::AlertsPublishedT& o) { v("alerts", o.alerts); }

template <class T, class V>
bool VisitAs(V& v, fb::OpUnion& op, bool create) {
  if (create) op.Set(T{});
  Fields(v, *static_cast<T*>(op.value));
  return true;
}

// Visits the fields of `op` (of type `type`); with `create`, makes `op` an empty op of that type
// first. False for a type this build does not know (NONE, or newer than the schema).
template <class V>
bool VisitOp(V& v, fb::Op type, fb::OpUnion& op, bool create) {
  switch (type) {
    case fb::Op::AccountCreated: return VisitAs<fb::AccountCreatedT>(v, op, create);
    case fb::Op::KeyIssued: return VisitAs<fb::KeyIssuedT>(v, op, create);
    case fb::Op::ParentSet: return VisitAs<fb::ParentSetT>(v, op, create);
    case fb::Op::KeyRotated: return VisitAs<fb::KeyRotatedT>(v, op, create);
    case fb::Op::KeySuspended: return VisitAs<fb::KeySuspendedT>(v, op, create);
    case fb::Op::KeyActivated: return VisitAs<fb::KeyActivatedT>(v, op, create);
    case fb::Op::KeyConfirmed: return VisitAs<fb::KeyConfirmedT>(v, op, create);
    case fb::Op::KeyDeleted: return VisitAs<fb::KeyDeletedT>(v, op, create);
    case fb::Op::AllowedSourcesSet: return VisitAs<fb::AllowedSourcesSetT>(v, op, create);
    case fb::Op::ConfigSet: return VisitAs<fb::ConfigSetT>(v, op, create);
    case fb::Op::QuotaSet: return VisitAs<fb::QuotaSetT>(v, op, create);
    case fb::Op::MemberCapSet: return VisitAs<fb::MemberCapSetT>(v, op, create);
    case fb::Op::AccountConfigSet: return VisitAs<fb::AccountConfigSetT>(v, op, create);
    case fb::Op::RequestEvent: return VisitAs<fb::RequestEventT>(v, op, create);
    case fb::Op::AdminTokenSet: return VisitAs<fb::AdminTokenSetT>(v, op, create);
    case fb::Op::AccountStatusSet: return VisitAs<fb::AccountStatusSetT>(v, op, create);
    case fb::Op::GatewayCreated: return VisitAs<fb::GatewayCreatedT>(v, op, create);
    case fb::Op::GatewayRevoked: return VisitAs<fb::GatewayRevokedT>(v, op, create);
    case fb::Op::RateLimitSet: return VisitAs<fb::RateLimitSetT>(v, op, create);
    case fb::Op::KeyExpirySet: return VisitAs<fb::KeyExpirySetT>(v, op, create);
    case fb::Op::CreditsAdded: return VisitAs<fb::CreditsAddedT>(v, op, create);
    case fb::Op::CreditsConfigSet: return VisitAs<fb::CreditsConfigSetT>(v, op, create);
    case fb::Op::DeadLetterRedriven: return VisitAs<fb::DeadLetterRedrivenT>(v, op, create);
    case fb::Op::UsageAdjusted: return VisitAs<fb::UsageAdjustedT>(v, op, create);
    case fb::Op::AlertThresholdsSet: return VisitAs<fb::AlertThresholdsSetT>(v, op, create);
    case fb::Op::WebhookCreated: return VisitAs<fb::WebhookCreatedT>(v, op, create);
    case fb::Op::WebhookDeleted: return VisitAs<fb::WebhookDeletedT>(v, op, create);
    case fb::Op::WebhookAttempted: return VisitAs<fb::WebhookAttemptedT>(v, op, create);
    case fb::Op::AlertsPublished: return VisitAs<fb::AlertsPublishedT>(v, op, create);
    default: return false;
  }
}

}  // namespace keymeter::log_line_internal
