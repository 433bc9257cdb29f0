// The account admin's endpoints (DESIGN §3, "Account admin"; docs/api.md has the reference).
// Every one takes "Authorization: Bearer <admin token>" and reaches only the keys of that
// token's account; `{id}` is a key id or a full key (only its first 8 characters are used).
//
//   POST   /v1/keys                        issue a key          → 201 {"key","key_id","status"}
//   GET    /v1/keys, /v1/keys/{id}         list / one key (never a secret or a hash)
//   POST   /v1/keys/{id}/rotate            new secret, same id  → {"key","key_id","grace_until"}
//   POST   /v1/keys/{id}/suspend|activate|confirm, DELETE /v1/keys/{id}
//   PUT    /v1/keys/{id}/parent|allowed-sources|config|quota|cap
//   GET    /v1/usage, /v1/audit, /v1/requests
//   POST   /a/admin/api-key-set-parent     n1ed compatibility (seed 001), form-encoded
//
// Writes are decided by the log (api/command.h): 200/201 once applied, the projector's
// code with its HTTP status when refused, 202 {"command_id"} when the outcome is late, 503 when
// the log refuses the append. Credentials: 401 UNAUTHORIZED, 403 FORBIDDEN (a member's key),
// 429 TOO_MANY_ATTEMPTS (api/auth.h). Another account's key answers 404 NOT_FOUND, exactly
// like a key that does not exist.
//
// Thread safety: call once, before the server starts; the handlers are thread-safe.

#pragma once

#include "api/context.h"
#include "http/router.h"

namespace keymeter {

void RegisterAdminRoutes(http::Router& router, ServeContext& context);

}  // namespace keymeter
