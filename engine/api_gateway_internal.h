// Internals of the gateway endpoints (engine/api_gateway.h), shared by its .cc files.
//
// Thread safety: free functions, no shared state.

#pragma once

#include <chrono>
#include <string_view>

#include "engine/cli_serve.h"
#include "engine/http_server.h"
#include "engine/router.h"
#include "schemas/ids.h"

namespace keymeter::gateway_internal {

// True when the request's Content-Type media type (before any ';' parameter, ASCII
// case-insensitive, blanks trimmed) is `media_type`.
bool HasMediaType(const http::Request& request, std::string_view media_type);

// `s` without leading and trailing spaces and tabs.
std::string_view Trim(std::string_view s);

// Microseconds since the epoch, from the system clock.
inline TimeUs WallClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// POST /v1/events (api_gateway_events.cc).
void RegisterEventsRoute(http::Router& router, ServeContext& context);

}  // namespace keymeter::gateway_internal
