// The gateway endpoints (DESIGN §3, Gateway): authorize, and the intake of request events.
//
// GET /v1/authorize — for nginx auth_request and similar. Key from X-Api-Key, else
//   "Authorization: Bearer <key>"; client IP from X-Real-IP, else the peer address; product from
//   X-Product; units from X-Units (default 1; not an integer 0..4294967295 → 400 INVALID_UNITS).
//   Optional exact quota: "X-Reserve: true" with X-Request-Id (32 hex digits or a UUID; nginx's
//   $request_id fits). Answers 204 allowed, 401 MALFORMED_KEY (a missing key too) / NOT_FOUND,
//   403, 429, 400 INVALID_REQUEST_ID, 503 RESERVATIONS_FULL (engine/authorizer.h), with an empty
//   body (a JSON error body for 400) and headers:
//     X-Keymeter-Reason       OK or the code, always
//     X-Keymeter-Account      account id  } once the key is verified (never for 401)
//     X-Keymeter-Key-Id       key id      }
//     RateLimit-Reset         seconds until the daily quota resets (next UTC midnight), idem
//     RateLimit-Remaining     daily requests left, when a daily quota or member cap applies
//
// POST /v1/authorize — Content-Type application/json (else 415 UNSUPPORTED_MEDIA_TYPE), body
//   {"key": str (required), "ip": str, "product": str, "units": int, "reserve": bool,
//    "request_id": str}; no "ip" means the peer address, as for GET. Bad JSON → 400
//   INVALID_JSON; "key" absent → 400 MISSING_FIELD; a member of the wrong type → 400
//   INVALID_FIELD; bad units → 400 INVALID_UNITS. Every decision, allowed or not, is 200:
//     {"allowed": bool, "reason": "OK" | code, "account_id", "key_id", "root_key_id"
//        (null until the key is verified), "remaining": {"daily_requests", "monthly_units"}
//        (null when the quota step was not reached; each member null when unlimited),
//      "reset": {"daily", "monthly"} (RFC 3339 UTC)}
//   so that JSON clients read one shape; only malformed input is a 4xx.
//
// POST /v1/events — request events, answered 200 {"accepted": N, "rejected": [{"line": i,
//   "code": "...", "message": "..."}]} once appended to the log (embedded) or acknowledged by
//   Kafka. Rejected lines are not published; the rest are, in order.
//   - application/x-ndjson or application/json: one event per line (consumers/ndjson.h). The
//     account comes from the key directory. Line codes: INVALID_JSON, MISSING_FIELD,
//     INVALID_FIELD, OVERSIZED, UNKNOWN_KEY (no such key id).
//   - application/x-flatbuffers: a sequence of records `be32 length, Envelope[length]`; each is
//     verified (consumers/decode.h) and must be a RequestEvent of a known key whose account it
//     names. `line` is the 1-based record number. Codes: UNDECODABLE, OVERSIZED, MISSING_FIELD,
//     ACCOUNT_MISMATCH, NOT_A_REQUEST_EVENT, UNKNOWN_KEY, TRUNCATED (the framing ends inside a
//     record; nothing after it is read).
//   Limits: body 16 MiB (413 BODY_TOO_LARGE, by the server), 100,000 lines or records (413
//   TOO_MANY_LINES). Other content types → 415. The log refusing the append → 503 with its
//   code (LOG-READ-ONLY, KAFKA-ERROR, ...).
//   Later checks (duplicates, future or deleted-key events) are the projector's: such events go
//   to the dead-letter queue.
//
// Metrics: keymeter_authorize_decisions_total{reason}, keymeter_authorize_latency_seconds
// (the Authorizer's probe, engine/metrics.h).
//
// Thread safety: handlers run concurrently on the HTTP workers; they use only the thread-safe
// parts of the ServeContext (authorizer, pipeline, directory under the state mutex).
// Nothing here logs a key.

#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "api/context.h"
#include "http/router.h"

namespace keymeter {

// Largest body of POST /v1/events in the media types it takes (NDJSON, JSON lines,
// FlatBuffers); a body of any other type gets the server's default limit (it is refused 415).
constexpr size_t kEventsBodyLimit = size_t{8} << 20;
// Most lines (NDJSON) or records (FlatBuffers) in one POST /v1/events.
constexpr size_t kEventsMaxLines = 100'000;

// Registers the three routes above. `context.authorizer` must be set.
void RegisterGatewayRoutes(http::Router& router, ServeContext& context);

// The body limit of the gateway routes that need more than the server's default (for
// http::ServerOptions::body_limit): POST /v1/events of a media type it takes; nullopt for every
// other request.
std::optional<size_t> GatewayBodyLimit(std::string_view method, std::string_view path,
                                       std::string_view content_type);

}  // namespace keymeter
