// ClientAddress: whom a request comes from, for counting failed credentials
// (api/attempt_limiter.h).
//
// - The peer's address, unless the peer is one of the trusted proxies (KEYMETER_TRUSTED_PROXIES:
//   a reverse proxy such as examples/nginx): then the X-Real-IP it set, else the last address of
//   the last X-Forwarded-For line (the one it appended). A proxy trusted so must set X-Real-IP
//   itself (replacing the client's) or not pass it on. Anyone else's headers are ignored, so a
//   client can't move its failures onto another address; and behind a trusted proxy one bad
//   client can't lock out everyone the proxy serves.
// - An IPv6 address counts as its /64 ("2001:db8:1:2::/64"): one host often holds a whole /64,
//   and per-address counting would not bind it. IPv4 addresses count one by one.
//
// Thread safety: pure function.

#pragma once

#include <span>
#include <string>

#include "http/server.h"
#include "projections/allowed_sources.h"

namespace keymeter {

std::string ClientAddress(const http::Request& request, std::span<const Cidr> trusted_proxies);

}  // namespace keymeter
