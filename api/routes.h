// Every route of the HTTP API (docs/api.md) on one router: ops, gateway, operator, account
// admin, member, n1ed and the web console.
//
// Thread safety: call once, before the server starts; the handlers it adds are thread-safe.

#pragma once

#include "api/context.h"
#include "http/router.h"

namespace keymeter {

// Adds every route to `context.router`. `context` must outlive the router's use.
void RegisterRoutes(ServeContext& context);

}  // namespace keymeter
