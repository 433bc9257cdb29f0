// Fuzz target: one message of the event log, as every source hands it to the projector —
// copied 8-byte aligned (PayloadArena), verified and checked by DecodeEnvelope
// (consumers/decode.h). When it is accepted, or rejected after verification, every field the
// projector may read is read: the object API's UnPack walks the whole table tree, and the
// names of the op and statuses are looked up. A verified buffer must never read out of bounds.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "consumers/decode.h"
#include "schemas/envelope.h"

using namespace keymeter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  PayloadArena arena;
  arena.Add(std::span<const uint8_t>(data, size));
  const std::span<const uint8_t> bytes = arena[0];
  const Decoded decoded = DecodeEnvelope(bytes);
  // A small limit takes the OVERSIZED path without reading.
  (void)DecodeEnvelope(bytes, size / 2);
  if (decoded.envelope == nullptr) {
    if (decoded.ok()) __builtin_trap();  // an accepted message always has an envelope
    return 0;
  }
  const fb::Envelope* e = decoded.envelope;
  (void)OpName(e->op_type());
  std::unique_ptr<fb::EnvelopeT> unpacked(e->UnPack());
  if (const fb::KeyIssued* k = e->op_as_KeyIssued()) (void)StatusName(k->status());
  // Rebuilding what was read must verify again (no state the verifier accepted and Pack
  // cannot express).
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(fb::Envelope::Pack(builder, unpacked.get()), "KMEV");
  const Decoded again = DecodeEnvelope({builder.GetBufferPointer(), builder.GetSize()});
  if (again.envelope == nullptr) __builtin_trap();
  return 0;
}
