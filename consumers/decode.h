// Decode and verify one message of the event log before the projector reads any field of it.
//
// Contract: DecodeEnvelope never reads a byte outside `bytes` and never crashes, whatever the
// input (random bytes, truncated buffers, hostile offsets): it runs flatbuffers::Verifier first
// (schemas/envelope.h). It decides only what needs no state; UNKNOWN-KEY, KEY-DELETED, KEY-EXPIRED,
// FUTURE-TIMESTAMP and DUPLICATE need the projections and are decided by the projector.
//
// Reasons (stable codes, shown as is in the DLQ and in metrics):
//   OVERSIZED         more than `max_bytes` bytes (nothing is read)
//   UNDECODABLE       empty, fails verification, op NONE, unknown op, op table absent
//   MISSING-FIELD     a required field is absent or empty; `detail` names it:
//                       every op: account_id
//                       RequestEvent: request_id, key_id, account_id, time_us (> 0)
//                       key ops (IsKeyOp: KeyIssued ... CreditsConfigSet): key_id
//                       KeyIssued, KeyRotated: secret_hash; AccountCreated: admin_token_hash
//   MALFORMED-KEY-ID  a RequestEvent whose key_id is not 8 characters of [A-Za-z0-9] — a whole
//                     24-character key among them, whose secret must not reach the log (the
//                     projector keeps such a message's payload out of the DLQ)
//   ACCOUNT-MISMATCH  a RequestEvent whose account_id differs from the envelope's
//
// Thread safety: free functions, no shared state; PayloadArena is a value (one thread).

#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "schemas/events_generated.h"
#include "schemas/status.h"

namespace keymeter {

// Largest envelope accepted by default. Kafka's message.max.bytes is 16 MiB on the test broker,
// but no keymeter op comes near 1 MiB; anything larger is a producer bug or an attack.
constexpr size_t kMaxEnvelopeBytes = size_t{1} << 20;

struct Decoded {
  // Set whenever `bytes` verified as an Envelope, even when `reason` rejects it (so the DLQ and
  // logs can name the op); nullptr for OVERSIZED and UNDECODABLE. Points into `bytes`.
  const fb::Envelope* envelope = nullptr;
  // Code::kOk when the envelope may be applied; else one of the reasons above.
  Code reason = Code::kOk;
  std::string detail;

  bool ok() const { return reason == Code::kOk; }
};

// Verifies and checks `bytes`. `bytes` must outlive the returned envelope pointer, and should
// start 8-byte aligned: FlatBuffers reads scalars in place (x86 tolerates misalignment, UBSan
// does not). Every Source of this module returns aligned payloads; copy others with a
// PayloadArena.
Decoded DecodeEnvelope(std::span<const uint8_t> bytes, size_t max_bytes = kMaxEnvelopeBytes);

// Copies of byte strings, each starting 8-byte aligned, kept until Clear(); what the sources
// hand out as SourceMessage payloads. Adding may move earlier copies: take the spans (operator[])
// once everything is added. Thread safety: not thread-safe.
class PayloadArena {
 public:
  void Clear() {
    used_ = 0;
    spans_.clear();
  }
  void Add(std::span<const uint8_t> bytes) {
    const size_t start = (used_ + 7) & ~size_t{7};
    const size_t end = start + bytes.size();
    if (words_.size() * 8 < end) words_.resize(std::max(words_.size() * 2, (end + 7) / 8));
    if (!bytes.empty()) std::memcpy(base() + start, bytes.data(), bytes.size());
    spans_.emplace_back(start, bytes.size());
    used_ = end;
  }
  size_t size() const { return spans_.size(); }
  std::span<const uint8_t> operator[](size_t i) const {
    return {reinterpret_cast<const uint8_t*>(words_.data()) + spans_[i].first, spans_[i].second};
  }

 private:
  uint8_t* base() { return reinterpret_cast<uint8_t*>(words_.data()); }

  std::vector<uint64_t> words_;
  size_t used_ = 0;
  std::vector<std::pair<size_t, size_t>> spans_;  // start, size
};

}  // namespace keymeter
