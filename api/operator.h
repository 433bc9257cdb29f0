// The operator's endpoints (DESIGN §3, "Operator"): "Authorization: Bearer <operator token>",
// the token given by --operator-token or KEYMETER_OPERATOR_TOKEN (only its SHA-256 is kept).
// Without one configured these endpoints answer 401 to everybody.
//
//   POST /v1/accounts {"name","require_confirmation"}
//        → 201 {"account_id","admin_token"}: the only time the admin token is shown.
//   GET  /v1/accounts/{id} → the account (status, admin token active or revoked)
//   POST /v1/accounts/{id}/suspend | /activate → the account (AccountStatusSet)
//   POST /v1/accounts/{id}/admin-token → 201 {"account_id","admin_token"} (a new token);
//   DELETE /v1/accounts/{id}/admin-token → the account (revoked) (AdminTokenSet)
//   POST /v1/gateways {"name"} → 201 {"gateway_id","name","token"}; GET /v1/gateways;
//   DELETE /v1/gateways/{id} (gateways.cc: GatewayCreated, GatewayRevoked)
//   GET  /v1/billing/usage?month=YYYY-MM
//        → {"month","from","to","watermark","complete","allowed_lateness_seconds",
//           "accounts": [{"account_id","name","totals",
//             "root_keys": [{"key_id","label","status","totals",
//               "members": [{"key_id","label","status","totals",
//                            "products": [{"product", counters}]}]}]}]}
//        Totals are the month's counters (requests, units, errors_4xx, errors_5xx, bytes_in,
//        bytes_out) of the account, the root key's pool and each member (the root itself is
//        its pool's first member). "complete" is true once the projector's watermark is past
//        the end of the month plus the allowed lateness (KEYMETER_BILLING_LATENESS_SECONDS,
//        default one hour): the numbers will not change any more.
//
// Thread safety: call once, before the server starts; the handlers are thread-safe.

#pragma once

#include "api/context.h"
#include "http/router.h"

namespace keymeter {

void RegisterOperatorRoutes(http::Router& router, ServeContext& context);

}  // namespace keymeter
