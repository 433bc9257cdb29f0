#include "schemas/envelope_builder.h"

#include "schemas/envelope.h"

namespace keymeter {

namespace {

using Builder = flatbuffers::FlatBufferBuilder;

const char* OrNull(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

template <class T>
std::string Finish(Builder& b, const EnvelopeHeader& h, fb::Op type, flatbuffers::Offset<T> op) {
  auto actor = fb::CreateActorDirect(b, h.actor, OrNull(h.actor_key_id));
  fb::Sha256 digest;
  if (h.request_digest) digest = DigestToFb(*h.request_digest);
  auto envelope = fb::CreateEnvelopeDirect(b, OrNull(h.command_id), h.time_us, actor,
                                           h.account_id.c_str(), type, op.Union(),
                                           h.request_digest ? &digest : nullptr);
  b.Finish(envelope, fb::EnvelopeIdentifier());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

std::vector<flatbuffers::Offset<flatbuffers::String>> Strings(Builder& b,
                                                               const std::vector<std::string>& v) {
  std::vector<flatbuffers::Offset<flatbuffers::String>> out;
  for (const std::string& s : v) out.push_back(b.CreateString(s));
  return out;
}

}  // namespace

std::string BuildAccountCreated(const EnvelopeHeader& h, const std::string& name,
                                const Digest& admin_token_hash, bool require_confirmation) {
  Builder b(256);
  fb::Sha256 hash = DigestToFb(admin_token_hash);
  return Finish(b, h, fb::Op::AccountCreated,
                fb::CreateAccountCreatedDirect(b, name.c_str(), &hash, require_confirmation));
}

std::string BuildAccountConfigSet(const EnvelopeHeader& h, bool require_confirmation) {
  Builder b(128);
  return Finish(b, h, fb::Op::AccountConfigSet,
                fb::CreateAccountConfigSet(b, require_confirmation));
}

std::string BuildAdminTokenSet(const EnvelopeHeader& h, const Digest* admin_token_hash) {
  Builder b(128);
  fb::Sha256 hash;
  if (admin_token_hash != nullptr) hash = DigestToFb(*admin_token_hash);
  return Finish(b, h, fb::Op::AdminTokenSet,
                fb::CreateAdminTokenSet(b, admin_token_hash != nullptr ? &hash : nullptr));
}

std::string BuildAccountStatusSet(const EnvelopeHeader& h, bool suspended) {
  Builder b(128);
  return Finish(b, h, fb::Op::AccountStatusSet, fb::CreateAccountStatusSet(b, suspended));
}

std::string BuildGatewayCreated(const EnvelopeHeader& h, const std::string& gateway_id,
                                const std::string& name, const Digest& token_hash) {
  Builder b(256);
  fb::Sha256 hash = DigestToFb(token_hash);
  return Finish(b, h, fb::Op::GatewayCreated,
                fb::CreateGatewayCreatedDirect(b, gateway_id.c_str(), name.c_str(), &hash));
}

std::string BuildGatewayRevoked(const EnvelopeHeader& h, const std::string& gateway_id) {
  Builder b(128);
  return Finish(b, h, fb::Op::GatewayRevoked, fb::CreateGatewayRevokedDirect(b, gateway_id.c_str()));
}

std::string BuildKeyIssued(const EnvelopeHeader& h, const std::string& key_id,
                           const Digest& secret_hash, const std::string& label,
                           const std::string& parent, fb::KeyStatus status,
                           TimeUs expires_at_us) {
  Builder b(256);
  fb::Sha256 hash = DigestToFb(secret_hash);
  return Finish(b, h, fb::Op::KeyIssued,
                fb::CreateKeyIssuedDirect(b, key_id.c_str(), &hash, label.c_str(),
                                          parent.c_str(), status, expires_at_us));
}

std::string BuildParentSet(const EnvelopeHeader& h, const std::string& key_id,
                           const std::string& parent) {
  Builder b(128);
  return Finish(b, h, fb::Op::ParentSet,
                fb::CreateParentSetDirect(b, key_id.c_str(), parent.c_str()));
}

std::string BuildKeyRotated(const EnvelopeHeader& h, const std::string& key_id,
                            const Digest& secret_hash, TimeUs grace_until_us) {
  Builder b(128);
  fb::Sha256 hash = DigestToFb(secret_hash);
  return Finish(b, h, fb::Op::KeyRotated,
                fb::CreateKeyRotatedDirect(b, key_id.c_str(), &hash, grace_until_us));
}

std::string BuildStatusOp(const EnvelopeHeader& h, fb::Op op, const std::string& key_id) {
  Builder b(128);
  auto id = b.CreateString(key_id);
  switch (op) {
    case fb::Op::KeySuspended: return Finish(b, h, op, fb::CreateKeySuspended(b, id));
    case fb::Op::KeyActivated: return Finish(b, h, op, fb::CreateKeyActivated(b, id));
    case fb::Op::KeyConfirmed: return Finish(b, h, op, fb::CreateKeyConfirmed(b, id));
    default: return Finish(b, h, fb::Op::KeyDeleted, fb::CreateKeyDeleted(b, id));
  }
}

std::string BuildAllowedSourcesSet(const EnvelopeHeader& h, const std::string& key_id,
                                   const std::vector<std::string>& ips,
                                   const std::vector<std::string>& domains) {
  Builder b(256);
  auto ip_offsets = Strings(b, ips);
  auto domain_offsets = Strings(b, domains);
  return Finish(b, h, fb::Op::AllowedSourcesSet,
                fb::CreateAllowedSourcesSetDirect(b, key_id.c_str(), &ip_offsets,
                                                  &domain_offsets));
}

std::string BuildConfigSet(const EnvelopeHeader& h, const std::string& key_id,
                           const std::vector<std::string>& products,
                           const std::vector<std::pair<std::string, std::string>>& settings) {
  Builder b(256);
  auto product_offsets = Strings(b, products);
  std::vector<flatbuffers::Offset<fb::Setting>> setting_offsets;
  for (const auto& [name, value] : settings) {
    setting_offsets.push_back(fb::CreateSettingDirect(b, name.c_str(), value.c_str()));
  }
  return Finish(b, h, fb::Op::ConfigSet,
                fb::CreateConfigSetDirect(b, key_id.c_str(), &product_offsets, &setting_offsets));
}

std::string BuildQuotaSet(const EnvelopeHeader& h, const std::string& key_id,
                          uint64_t daily_requests, uint64_t monthly_units) {
  Builder b(128);
  return Finish(b, h, fb::Op::QuotaSet,
                fb::CreateQuotaSetDirect(b, key_id.c_str(), daily_requests, monthly_units));
}

std::string BuildMemberCapSet(const EnvelopeHeader& h, const std::string& key_id,
                              uint64_t daily_requests, uint64_t monthly_units) {
  Builder b(128);
  return Finish(b, h, fb::Op::MemberCapSet,
                fb::CreateMemberCapSetDirect(b, key_id.c_str(), daily_requests, monthly_units));
}

std::string BuildRateLimitSet(const EnvelopeHeader& h, const std::string& key_id,
                              const RateLimits& limits) {
  Builder b(128);
  return Finish(b, h, fb::Op::RateLimitSet,
                fb::CreateRateLimitSetDirect(b, key_id.c_str(), limits.per_second,
                                             limits.per_minute, limits.per_hour));
}

std::string BuildKeyExpirySet(const EnvelopeHeader& h, const std::string& key_id,
                              TimeUs expires_at_us) {
  Builder b(128);
  return Finish(b, h, fb::Op::KeyExpirySet,
                fb::CreateKeyExpirySetDirect(b, key_id.c_str(), expires_at_us));
}

std::string BuildCreditsAdded(const EnvelopeHeader& h, const std::string& key_id, int64_t units,
                              const std::string& reason) {
  Builder b(192);
  return Finish(b, h, fb::Op::CreditsAdded,
                fb::CreateCreditsAddedDirect(b, key_id.c_str(), units, reason.c_str()));
}

std::string BuildCreditsConfigSet(const EnvelopeHeader& h, const std::string& key_id, bool enabled,
                                  uint64_t refill_units, fb::RefillPeriod period, bool rollover) {
  Builder b(128);
  return Finish(b, h, fb::Op::CreditsConfigSet,
                fb::CreateCreditsConfigSetDirect(b, key_id.c_str(), enabled, refill_units, period,
                                                 rollover));
}

std::string BuildDeadLetterRedriven(const EnvelopeHeader& h, int32_t partition, int64_t offset,
                                    const std::string& reason, const std::string& op,
                                    const std::string& key_id,
                                    const std::optional<RequestIdBytes>& request_id) {
  Builder b(256);
  std::optional<fb::RequestId> id;
  if (request_id) id.emplace(flatbuffers::span<const uint8_t, 16>(request_id->data(), 16));
  return Finish(b, h, fb::Op::DeadLetterRedriven,
                fb::CreateDeadLetterRedrivenDirect(b, partition, offset, reason.c_str(), op.c_str(),
                                                   key_id.c_str(), id ? &*id : nullptr));
}

std::string BuildAlertThresholdsSet(const EnvelopeHeader& h, const std::string& key_id,
                                   const std::vector<uint8_t>& percents) {
  Builder b(128);
  return Finish(b, h, fb::Op::AlertThresholdsSet,
                fb::CreateAlertThresholdsSetDirect(b, key_id.c_str(), &percents));
}

std::string BuildUsageAdjusted(const EnvelopeHeader& h, const std::string& key_id,
                               TimeUs month_start_us, int64_t requests, int64_t units,
                               const std::string& reason) {
  Builder b(256);
  return Finish(b, h, fb::Op::UsageAdjusted,
                fb::CreateUsageAdjustedDirect(b, key_id.c_str(), month_start_us, requests, units,
                                              reason.c_str()));
}

std::string BuildWebhookCreated(const EnvelopeHeader& h, const std::string& webhook_id,
                                const std::string& url, const std::vector<std::string>& events) {
  Builder b(256 + url.size());
  std::vector<flatbuffers::Offset<flatbuffers::String>> names;
  for (const std::string& e : events) names.push_back(b.CreateString(e));
  return Finish(b, h, fb::Op::WebhookCreated,
                fb::CreateWebhookCreatedDirect(b, webhook_id.c_str(), url.c_str(), &names));
}

std::string BuildWebhookDeleted(const EnvelopeHeader& h, const std::string& webhook_id) {
  Builder b(128);
  return Finish(b, h, fb::Op::WebhookDeleted,
                fb::CreateWebhookDeletedDirect(b, webhook_id.c_str()));
}

std::string BuildWebhookAttempted(const EnvelopeHeader& h, const WebhookAttempt& a) {
  Builder b(256);
  return Finish(b, h, fb::Op::WebhookAttempted,
                fb::CreateWebhookAttemptedDirect(b, a.webhook_id.c_str(), a.alert_id.c_str(),
                                                 a.alert_time_us, a.attempt, a.status,
                                                 a.error.c_str(), a.delivered,
                                                 a.next_attempt_us));
}

std::string BuildAlertsPublished(const EnvelopeHeader& h,
                                 const std::vector<std::pair<std::string, TimeUs>>& alerts) {
  Builder b(128 + 64 * alerts.size());
  std::vector<flatbuffers::Offset<fb::AlertRef>> refs;
  for (const auto& [id, time_us] : alerts) {
    refs.push_back(fb::CreateAlertRefDirect(b, id.c_str(), time_us));
  }
  return Finish(b, h, fb::Op::AlertsPublished, fb::CreateAlertsPublishedDirect(b, &refs));
}

std::string BuildRequestEvent(const RequestFields& r) {
  Builder b(256);
  fb::RequestId id(flatbuffers::span<const uint8_t, 16>(r.request_id.data(), 16));
  auto op = fb::CreateRequestEventDirect(b, &id, r.key_id.c_str(), r.account_id.c_str(),
                                         r.time_us, r.product.c_str(), r.units, r.status,
                                         r.bytes_in, r.bytes_out, r.latency_us,
                                         r.client_ip.c_str(), r.gateway_id.c_str());
  EnvelopeHeader h;
  h.time_us = r.time_us;
  h.account_id = r.account_id;
  h.actor = fb::ActorKind::System;
  return Finish(b, h, fb::Op::RequestEvent, op);
}

}  // namespace keymeter
