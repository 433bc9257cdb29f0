// Internals of the gateway endpoints (api/gateway.h), shared by its .cc files.
//
// Thread safety: free functions, no shared state.

#pragma once

#include <chrono>
#include <string_view>

#include "api/context.h"
#include "http/router.h"
#include "http/server.h"
#include "schemas/clock.h"
#include "schemas/ids.h"

namespace keymeter::gateway_internal {

// True when the request's Content-Type media type (before any ';' parameter, ASCII
// case-insensitive, blanks trimmed) is `media_type`.
bool HasMediaType(const http::Request& request, std::string_view media_type);

// The key of GET /v1/authorize: X-Api-Key, else "Authorization: Bearer <key>"; "" when
// neither.
std::string_view KeyOf(const http::Request& request);

// POST /v1/events (gateway_events.cc).
void RegisterEventsRoute(http::Router& router, ServeContext& context);

}  // namespace keymeter::gateway_internal
