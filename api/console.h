// The web console (console/README.md): a static single-page app served from the binary, on top
// of the public API (it calls the same /v1 endpoints as any client; there is no other backend).
//
//   GET /console          308 to /console/ (the app's relative URLs need the slash)
//   GET /console/         index.html
//   GET /console/{file}   one embedded file (app.js, style.css, ...); 404 NOT_FOUND otherwise
//
// Every answer carries Content-Security-Policy (scripts and styles from this origin only, no
// inline script, no framing, fetch to this origin only), X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer and Cache-Control: no-cache with a strong ETag, so a browser
// revalidates (If-None-Match → 304) and never runs a stale app after an upgrade.
//
// Thread safety: call once, before the server starts; the handlers are thread-safe (read-only).

#pragma once

#include "http/router.h"

namespace keymeter {

// The policy sent with every console response.
inline constexpr std::string_view kConsoleContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void RegisterConsoleRoutes(http::Router& router);

}  // namespace keymeter
