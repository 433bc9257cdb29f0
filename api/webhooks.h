// Webhooks (docs/api.md "Webhooks"): what the routes and the sender share — an endpoint's
// signing secret, the signature of a delivery and the JSON of an alert.
//
// A webhook's secret is derived, never stored: "whsec_" + hex(HMAC-SHA256(K, webhook_id)), K a
// secret of the deployment taken from the operator token's hash, so every member of a cluster
// signs alike and a new owner after a failover goes on signing with the same secret. Changing
// the operator token changes every webhook's secret.
//
// A delivery is a POST of the alert's JSON (DeliveryBody) with
//   Keymeter-Signature: t=<unix seconds>,v1=<hex(HMAC-SHA256(secret, "<t>." + body))>
// A receiver recomputes v1 over the raw body and refuses a `t` too far from its clock.
//
// Thread safety: pure functions, but FindWebhook, which takes the projector's state lock.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/ids.h"

namespace keymeter {

struct Alert;
class JsonWriter;
class Pipeline;
struct WebhookState;

// A copy of webhook `webhook_id` of `account_id`, taken under the projector's state lock;
// nullopt when the account has none of that id.
std::optional<WebhookState> FindWebhook(Pipeline& pipeline, std::string_view account_id,
                                        std::string_view webhook_id);

// The secret of `webhook_id`; nullopt without an operator token (no deployment secret).
std::optional<std::string> WebhookSecret(const std::optional<Digest>& operator_token_hash,
                                         std::string_view webhook_id);

// "t=<unix_seconds>,v1=<hex>" for `body` signed with `secret`.
std::string SignDelivery(std::string_view secret, int64_t unix_seconds, std::string_view body);

// The members of an alert's JSON object (GET /v1/alerts, a delivery's "data").
void WriteAlertFields(JsonWriter& json, const Alert& alert);

// A delivery's body: {"id": alert id, "type", "created": the alert's time, "account_id",
// "data": the alert}. The same bytes on every attempt, so a receiver dedupes on "id".
std::string DeliveryBody(const Alert& alert);

}  // namespace keymeter
