#include "consumers/decode.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "schemas/envelope.h"
#include "schemas/ids.h"

namespace keymeter {
namespace {

Decoded Reject(const fb::Envelope* envelope, Code reason, std::string detail) {
  return Decoded{envelope, reason, std::move(detail)};
}

bool Empty(const flatbuffers::String* s) { return s == nullptr || s->size() == 0; }

Decoded CheckRequestEvent(const fb::Envelope* envelope) {
  const fb::RequestEvent* r = envelope->op_as_RequestEvent();
  if (r->request_id() == nullptr) return Reject(envelope, Code::kMissingField, "request_id");
  if (Empty(r->key_id())) return Reject(envelope, Code::kMissingField, "key_id");
  if (Empty(r->account_id())) return Reject(envelope, Code::kMissingField, "account_id");
  // The 8-character id, never the whole key: a gateway that sent the key would put its secret
  // in the log (the detail does not repeat it).
  const std::string_view key_id = r->key_id()->string_view();
  if (key_id.size() != kKeyIdLength || !std::all_of(key_id.begin(), key_id.end(), IsKeyChar)) {
    return Reject(envelope, Code::kMalformedKeyId,
                  "key_id must be the 8-character key id, never the key (" +
                      std::to_string(key_id.size()) + " characters)");
  }
  if (r->time_us() <= 0) return Reject(envelope, Code::kMissingField, "time_us");
  if (r->account_id()->string_view() != envelope->account_id()->string_view()) {
    return Reject(envelope, Code::kAccountMismatch,
                  "event account " + r->account_id()->str() + ", envelope account " +
                      envelope->account_id()->str());
  }
  return Decoded{envelope, {}, {}};
}

}  // namespace

Decoded DecodeEnvelope(std::span<const uint8_t> bytes, size_t max_bytes) {
  if (bytes.size() > max_bytes) {
    return Reject(nullptr, Code::kOversized,
                  std::to_string(bytes.size()) + " bytes, limit " + std::to_string(max_bytes));
  }
  if (bytes.empty()) return Reject(nullptr, Code::kUndecodable, "empty message");
  const fb::Envelope* envelope = VerifyEnvelope(bytes, max_bytes);
  if (envelope == nullptr) {
    return Reject(nullptr, Code::kUndecodable, "not a verifiable KMEV envelope");
  }
  const fb::Op type = envelope->op_type();
  if (type == fb::Op::NONE) return Reject(nullptr, Code::kUndecodable, "op NONE");
  if (type > fb::Op::MAX) {
    return Reject(nullptr, Code::kUndecodable,
                  "unknown op type " + std::to_string(static_cast<int>(type)));
  }
  if (envelope->op() == nullptr) {
    return Reject(nullptr, Code::kUndecodable, std::string(OpName(type)) + " without its table");
  }
  if (Empty(envelope->account_id())) return Reject(envelope, Code::kMissingField, "account_id");
  if (type == fb::Op::RequestEvent) return CheckRequestEvent(envelope);

  if (IsKeyOp(type) && Empty(KeyIdOf(*envelope))) return Reject(envelope, Code::kMissingField, "key_id");
  if ((type == fb::Op::KeyIssued && envelope->op_as_KeyIssued()->secret_hash() == nullptr) ||
      (type == fb::Op::KeyRotated && envelope->op_as_KeyRotated()->secret_hash() == nullptr)) {
    return Reject(envelope, Code::kMissingField, "secret_hash");
  }
  if (type == fb::Op::AccountCreated &&
      envelope->op_as_AccountCreated()->admin_token_hash() == nullptr) {
    return Reject(envelope, Code::kMissingField, "admin_token_hash");
  }
  if ((type == fb::Op::WebhookCreated && Empty(envelope->op_as_WebhookCreated()->webhook_id())) ||
      (type == fb::Op::WebhookDeleted && Empty(envelope->op_as_WebhookDeleted()->webhook_id())) ||
      (type == fb::Op::WebhookAttempted &&
       Empty(envelope->op_as_WebhookAttempted()->webhook_id()))) {
    return Reject(envelope, Code::kMissingField, "webhook_id");
  }
  if (type == fb::Op::WebhookAttempted && Empty(envelope->op_as_WebhookAttempted()->alert_id())) {
    return Reject(envelope, Code::kMissingField, "alert_id");
  }
  if (type == fb::Op::GatewayCreated || type == fb::Op::GatewayRevoked) {
    const flatbuffers::String* gateway_id = type == fb::Op::GatewayCreated
                                                ? envelope->op_as_GatewayCreated()->gateway_id()
                                                : envelope->op_as_GatewayRevoked()->gateway_id();
    if (Empty(gateway_id)) return Reject(envelope, Code::kMissingField, "gateway_id");
    if (type == fb::Op::GatewayCreated &&
        envelope->op_as_GatewayCreated()->token_hash() == nullptr) {
      return Reject(envelope, Code::kMissingField, "token_hash");
    }
    if (envelope->account_id()->string_view() != kGatewaysAccount) {
      return Reject(envelope, Code::kAccountMismatch,
                    "gateway ops belong to account " + std::string(kGatewaysAccount));
    }
  }
  return Decoded{envelope, {}, {}};
}

}  // namespace keymeter
