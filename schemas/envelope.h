// Decoding and building of event-log envelopes (schemas/events.fbs).
//
// Thread safety: free functions, no shared state.

#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "schemas/events_generated.h"
#include "schemas/ids.h"

namespace keymeter {

// Returns the envelope inside `bytes` if it passes flatbuffers::Verifier (bounds, depth,
// table count) and carries the "KMEV" identifier; nullptr otherwise. `bytes` must outlive the
// returned pointer. Messages larger than `max_bytes` are refused unread.
const fb::Envelope* VerifyEnvelope(std::span<const uint8_t> bytes,
                                   size_t max_bytes = 1 << 20);

// Limits of an op's lists, checked by the API and again by the projector (the log's authority):
// at most kMaxListItems entries (allowed IPs, allowed domains, products, settings), each at most
// kMaxItemBytes bytes.
inline constexpr size_t kMaxListItems = 256;
inline constexpr size_t kMaxItemBytes = 256;

// The envelope account (the partitioning key) of the gateway ops, GatewayCreated and
// GatewayRevoked: gateways belong to the operator, not to an account. Account ids are
// "acct" + 12 key characters, so no account has this id.
inline constexpr std::string_view kGatewaysAccount = "_gateways";

// A FlatBuffers string as a std::string; "" for an absent field.
inline std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// A Digest as the schemas' Sha256 struct, and back (an absent one reads as zeros).
fb::Sha256 DigestToFb(const Digest& d);
Digest DigestFromFb(const fb::Sha256* s);
// A request id as the schemas' RequestId struct holds it (an absent one reads as zeros).
RequestIdBytes RequestIdFromFb(const fb::RequestId* id);

// What a command's outcome is published under (Pipeline::AwaitOutcome): its command id, and
// for an idempotent command (with a request digest; empty for any other) the digest's first
// bytes too, so that a retry of the same request finds the first outcome at once, and a reuse
// of its id for another request waits for its own answer (IDEMPOTENCY-KEY-REUSED).
std::string OutcomeKey(std::string_view command_id, std::span<const uint8_t> request_digest);

// The key_id field of a key op (KeyIssued, ParentSet ... CreditsConfigSet: every op on one key
// of the envelope's account); nullptr for any other op, and for a key op without the field.
const flatbuffers::String* KeyIdOf(const fb::Envelope& env);
bool IsKeyOp(fb::Op op);

// Name of an op for logs, metrics and the audit history ("KeyIssued").
std::string_view OpName(fb::Op op);

// Name of a key status as the API spells it ("pending", "active", ...).
std::string_view StatusName(fb::KeyStatus status);

}  // namespace keymeter
