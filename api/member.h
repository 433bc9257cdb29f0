// A member's endpoints (DESIGN §3, "Member"; seed 000's CHILD column, seed 002's member
// rights). Each takes "Authorization: Bearer <the member's own full 24-character key>" and
// reaches only that key:
//
//   GET  /v1/me                  own key: status, parent, effective config, allowed sources,
//                                "remaining" {"daily_requests","monthly_units"} (null =
//                                unlimited; the pool's and the member cap's, whichever is
//                                less) and "reset" {"daily","monthly"} — never the quotas
//   GET  /v1/me/usage            own usage (granularity, from, to; group_by=product)
//   GET  /v1/me/requests         own request log (status, from, to, limit, cursor)
//   POST /v1/me/rotate           {"grace_seconds"} → {"key","key_id","grace_until"}
//   PUT  /v1/me/allowed-sources  {"ips","domains"} → the key's view
//
// A member's key anywhere else (keys, usage of others, audit, quotas, billing, accounts)
// answers 403 FORBIDDEN (api/context.h, Authenticate), and so does a "key" query
// parameter naming another key here. An admin or operator token on these endpoints is 403 too.
// Writes publish with actor Member and the key's id; the projector refuses a member op on any
// other key (FORBIDDEN).
//
// Thread safety: call once, before the server starts; the handlers are thread-safe.

#pragma once

#include "api/context.h"
#include "http/router.h"

namespace keymeter {

void RegisterMemberRoutes(http::Router& router, ServeContext& context);

}  // namespace keymeter
