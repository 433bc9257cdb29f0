#include "schemas/envelope.h"

#include <cstring>

namespace keymeter {

const fb::Envelope* VerifyEnvelope(std::span<const uint8_t> bytes, size_t max_bytes) {
  // The root offset and the file identifier, checked here with one 4-byte compare: flatbuffers'
  // own identifier check is a strncmp, ~3% of the projector's time per event.
  constexpr size_t kHeader = 2 * sizeof(flatbuffers::uoffset_t);
  if (bytes.size() < kHeader || bytes.size() > max_bytes) return nullptr;
  if (std::memcmp(bytes.data() + sizeof(flatbuffers::uoffset_t), fb::EnvelopeIdentifier(),
                  flatbuffers::kFileIdentifierLength) != 0) {
    return nullptr;
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), /*max_depth=*/16,
                                 /*max_tables=*/4096);
  if (!verifier.VerifyBuffer<fb::Envelope>(nullptr)) return nullptr;
  return fb::GetEnvelope(bytes.data());
}

std::string_view OpName(fb::Op op) {
  const char* name = fb::EnumNameOp(op);
  return (name != nullptr && *name != '\0') ? name : "Unknown";
}

std::string_view StatusName(fb::KeyStatus status) {
  switch (status) {
    case fb::KeyStatus::Pending: return "pending";
    case fb::KeyStatus::Active: return "active";
    case fb::KeyStatus::Suspended: return "suspended";
    case fb::KeyStatus::Deleted: return "deleted";
  }
  return "unknown";
}

}  // namespace keymeter
