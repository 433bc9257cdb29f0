// Idempotency-Key (docs/api.md): a client that sends a write again — its first answer lost to
// a timeout, a dropped connection, a crash of either side — gets the first attempt's outcome
// instead of a second change.
//
// The header is taken on every POST, PUT and DELETE of the operator, account-admin and member
// API (TakesIdempotencyKey). WithIdempotency() wraps such a route's handler: under a key it
// runs the handler as it would run without one, but
//   - with DerivedRandomness (engine/secrets.h): command ids seeded by the credential and the
//     key, key ids, plain keys and tokens by those and the request's digest, so a retry makes
//     what the first attempt made (a retry of POST /v1/keys hands out the same plain key, which
//     nothing stores), and the same key with another request never makes the same secrets;
//   - with the request's digest (method, target and body) on every command it publishes
//     (RunCommand, Envelope.request_digest), so the projector applies each command id once and
//     answers a retry with the first outcome, for at least a day and across restarts and
//     members (projections/idempotency.h); the same key with another request answers 422
//     IDEMPOTENCY-KEY-REUSED.
// The answer is then built as the first one was: the same status, code, ids and secrets; a body
// that shows a key's state shows it as it is now. Keys are scoped to the credential that sends
// them (two admins of an account may use the same key for different requests).
//
// The derivation secret comes from the operator token (every member of a cluster has it): a
// server without one answers a keyed write 503 SERVICE-UNAVAILABLE rather than hand out keys
// a restart could not reproduce.
//
// Thread safety: the wrapped handler is safe from any number of threads; the request digest
// lives on the thread that runs the handler.

#pragma once

#include <optional>
#include <string>

#include "http/router.h"
#include "schemas/envelope_builder.h"
#include "schemas/ids.h"

namespace keymeter {

inline constexpr size_t kMaxIdempotencyKeyBytes = 255;

// True for the routes that take an Idempotency-Key: writes of the operator, account-admin and
// member API. Not the gateway's (authorize, events: their request ids dedupe), nor n1ed's form
// (its credential is in the body; setting a parent twice changes nothing).
bool TakesIdempotencyKey(const http::Router::Route& route);

// Wraps `inner` as above; `operator_token_hash` seeds the derivation secret.
http::Handler WithIdempotency(const std::optional<Digest>& operator_token_hash,
                              http::Handler inner);

// The digest of the keyed request this thread is handling; nullptr outside one.
const Digest* CurrentRequestDigest();

// Names a new command in `header`: under a keyed request an "idem_" id derived as above and the
// request's digest (by which the projector tells a retry from a reuse), else a random "cmd_" id.
void NameCommand(EnvelopeHeader* header);

// The account id a keyed `POST /v1/accounts` creates; nullopt without a (valid) key or a
// secret. It is derived from the credential and the key alone — not from which partitions the
// member answering owns, as an unkeyed create's is — so every member names the same one, and
// forwarding sends a retry to that account's owner like any request about an account.
std::optional<std::string> KeyedAccountId(const http::Request& request,
                                          const std::optional<Digest>& operator_token_hash);

}  // namespace keymeter
