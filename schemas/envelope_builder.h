// Builders for every op of schemas/events.fbs, wrapped in an Envelope and finished with the
// "KMEV" identifier. The admin API, the load generator and the tests build events only here.
//
// Thread safety: free functions, no shared state.

#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "schemas/events_generated.h"
#include "schemas/ids.h"

namespace keymeter {

struct EnvelopeHeader {
  std::string command_id;
  TimeUs time_us = 0;
  fb::ActorKind actor = fb::ActorKind::System;
  std::string actor_key_id;  // for fb::ActorKind::Member
  std::string account_id;
  // An idempotent command's request digest (Envelope.request_digest); unset for any other.
  std::optional<Digest> request_digest;
};

std::string BuildAccountCreated(const EnvelopeHeader& h, const std::string& name,
                                const Digest& admin_token_hash, bool require_confirmation);
std::string BuildAccountConfigSet(const EnvelopeHeader& h, bool require_confirmation);
// A new admin token for h.account_id, or (`admin_token_hash` nullptr) its revocation.
std::string BuildAdminTokenSet(const EnvelopeHeader& h, const Digest* admin_token_hash);
std::string BuildAccountStatusSet(const EnvelopeHeader& h, bool suspended);
// Gateway ops: h.account_id must be kGatewaysAccount (schemas/envelope.h).
std::string BuildGatewayCreated(const EnvelopeHeader& h, const std::string& gateway_id,
                                const std::string& name, const Digest& token_hash);
std::string BuildGatewayRevoked(const EnvelopeHeader& h, const std::string& gateway_id);
// `parent` is empty for a root key.
std::string BuildKeyIssued(const EnvelopeHeader& h, const std::string& key_id,
                           const Digest& secret_hash, const std::string& label,
                           const std::string& parent, fb::KeyStatus status,
                           TimeUs expires_at_us = 0);
// `parent` empty removes the link; it is published as given, so 1-7 characters reach the
// projector and come back as INVALID-PARENT-API-KEY.
std::string BuildParentSet(const EnvelopeHeader& h, const std::string& key_id,
                           const std::string& parent);
std::string BuildKeyRotated(const EnvelopeHeader& h, const std::string& key_id,
                            const Digest& secret_hash, TimeUs grace_until_us);
// `op` is one of KeySuspended, KeyActivated, KeyConfirmed, KeyDeleted.
std::string BuildStatusOp(const EnvelopeHeader& h, fb::Op op, const std::string& key_id);
std::string BuildAllowedSourcesSet(const EnvelopeHeader& h, const std::string& key_id,
                                   const std::vector<std::string>& ips,
                                   const std::vector<std::string>& domains);
std::string BuildConfigSet(const EnvelopeHeader& h, const std::string& key_id,
                           const std::vector<std::string>& products,
                           const std::vector<std::pair<std::string, std::string>>& settings);
std::string BuildQuotaSet(const EnvelopeHeader& h, const std::string& key_id,
                          uint64_t daily_requests, uint64_t monthly_units);
std::string BuildMemberCapSet(const EnvelopeHeader& h, const std::string& key_id,
                              uint64_t daily_requests, uint64_t monthly_units = 0);
// Requests per second, minute and hour; 0 = none.
struct RateLimits {
  uint64_t per_second = 0;
  uint64_t per_minute = 0;
  uint64_t per_hour = 0;

  bool any() const { return per_second != 0 || per_minute != 0 || per_hour != 0; }
  friend bool operator==(const RateLimits&, const RateLimits&) = default;
};
std::string BuildRateLimitSet(const EnvelopeHeader& h, const std::string& key_id,
                              const RateLimits& limits);
std::string BuildKeyExpirySet(const EnvelopeHeader& h, const std::string& key_id,
                              TimeUs expires_at_us);
std::string BuildCreditsAdded(const EnvelopeHeader& h, const std::string& key_id, int64_t units,
                              const std::string& reason);
std::string BuildCreditsConfigSet(const EnvelopeHeader& h, const std::string& key_id, bool enabled,
                                  uint64_t refill_units, fb::RefillPeriod period, bool rollover);

// The operator's record that the dead letter at `partition`/`offset` (dead-lettered `reason`)
// is published again; `op`, `key_id` and `request_id` are the re-driven message's.
std::string BuildDeadLetterRedriven(const EnvelopeHeader& h, int32_t partition, int64_t offset,
                                    const std::string& reason, const std::string& op,
                                    const std::string& key_id,
                                    const std::optional<RequestIdBytes>& request_id);

// A correction of the closed month starting at `month_start_us` of key `key_id`.
std::string BuildAlertThresholdsSet(const EnvelopeHeader& h, const std::string& key_id,
                                   const std::vector<uint8_t>& percents);
std::string BuildUsageAdjusted(const EnvelopeHeader& h, const std::string& key_id,
                               TimeUs month_start_us, int64_t requests, int64_t units,
                               const std::string& reason);

std::string BuildWebhookCreated(const EnvelopeHeader& h, const std::string& webhook_id,
                                const std::string& url, const std::vector<std::string>& events);
std::string BuildWebhookDeleted(const EnvelopeHeader& h, const std::string& webhook_id);
// One delivery attempt (WebhookAttempted's fields).
struct WebhookAttempt {
  std::string webhook_id;
  std::string alert_id;
  TimeUs alert_time_us = 0;
  uint32_t attempt = 0;
  uint16_t status = 0;
  std::string error;
  bool delivered = false;
  TimeUs next_attempt_us = 0;
};
std::string BuildWebhookAttempted(const EnvelopeHeader& h, const WebhookAttempt& a);
// AlertsPublished of (alert id, raised at) pairs.
std::string BuildAlertsPublished(const EnvelopeHeader& h,
                                 const std::vector<std::pair<std::string, TimeUs>>& alerts);

struct RequestFields {
  std::array<uint8_t, 16> request_id{};
  std::string key_id;
  std::string account_id;
  TimeUs time_us = 0;
  std::string product;
  uint32_t units = 1;
  uint16_t status = 200;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint32_t latency_us = 0;
  std::string client_ip;
  std::string gateway_id;
};

// A request event; the envelope's account and time are the request's.
std::string BuildRequestEvent(const RequestFields& r);

}  // namespace keymeter
