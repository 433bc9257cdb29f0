// Decode and verify one message of the event log before the projector reads any field of it.
//
// Contract: DecodeEnvelope never reads a byte outside `bytes` and never crashes, whatever the
// input (random bytes, truncated buffers, hostile offsets): it runs flatbuffers::Verifier first
// (schemas/envelope.h). It decides only what needs no state; UNKNOWN-KEY, KEY-DELETED,
// FUTURE-TIMESTAMP and DUPLICATE need the projections and are decided by the projector.
//
// Reasons (stable codes, shown as is in the DLQ and in metrics):
//   OVERSIZED         more than `max_bytes` bytes (nothing is read)
//   UNDECODABLE       empty, fails verification, op NONE, unknown op, op table absent
//   MISSING-FIELD     a required field is absent or empty; `detail` names it:
//                       every op: account_id
//                       RequestEvent: request_id, key_id, account_id, time_us (> 0)
//                       key ops (KeyIssued ... MemberCapSet): key_id
//                       KeyIssued, KeyRotated: secret_hash; AccountCreated: admin_token_hash
//   ACCOUNT-MISMATCH  a RequestEvent whose account_id differs from the envelope's
//
// Thread safety: free functions, no shared state.

#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "schemas/events_generated.h"

namespace keymeter {

// Largest envelope accepted by default. Kafka's message.max.bytes is 16 MiB on the test broker,
// but no keymeter op comes near 1 MiB; anything larger is a producer bug or an attack.
constexpr size_t kMaxEnvelopeBytes = size_t{1} << 20;

struct Decoded {
  // Set whenever `bytes` verified as an Envelope, even when `reason` rejects it (so the DLQ and
  // logs can name the op); nullptr for OVERSIZED and UNDECODABLE. Points into `bytes`.
  const fb::Envelope* envelope = nullptr;
  // Empty when the envelope may be applied; else one of the reasons above.
  std::string reason;
  std::string detail;

  bool ok() const { return reason.empty(); }
};

// Verifies and checks `bytes`. `bytes` must outlive the returned envelope pointer.
Decoded DecodeEnvelope(std::span<const uint8_t> bytes, size_t max_bytes = kMaxEnvelopeBytes);

}  // namespace keymeter
