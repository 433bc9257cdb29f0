// Decoding and building of event-log envelopes (schemas/events.fbs).
//
// Thread safety: free functions, no shared state.

#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "schemas/events_generated.h"

namespace keymeter {

// Returns the envelope inside `bytes` if it passes flatbuffers::Verifier (bounds, depth,
// table count) and carries the "KMEV" identifier; nullptr otherwise. `bytes` must outlive the
// returned pointer. Messages larger than `max_bytes` are refused unread.
const fb::Envelope* VerifyEnvelope(std::span<const uint8_t> bytes,
                                   size_t max_bytes = 1 << 20);

// Name of an op for logs, metrics and the audit history ("KeyIssued").
std::string_view OpName(fb::Op op);

// Name of a key status as the API spells it ("pending", "active", ...).
std::string_view StatusName(fb::KeyStatus status);

}  // namespace keymeter
