#include "schemas/envelope.h"

namespace keymeter {

const fb::Envelope* VerifyEnvelope(std::span<const uint8_t> bytes, size_t max_bytes) {
  if (bytes.empty() || bytes.size() > max_bytes) return nullptr;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), /*max_depth=*/16,
                                 /*max_tables=*/4096);
  if (!fb::VerifyEnvelopeBuffer(verifier)) return nullptr;
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
