#include "api/idempotency.h"

#include <algorithm>
#include <string>

#include "engine/secrets.h"
#include "http/json.h"
#include "schemas/hex.h"

namespace keymeter {

namespace {

thread_local const Digest* current_digest = nullptr;
thread_local DerivedRandomness* current_commands = nullptr;

// Sets the thread's request digest and its stream of command ids for a scope.
class DigestScope {
 public:
  DigestScope(const Digest& d, DerivedRandomness* commands)
      : outer_(current_digest), outer_commands_(current_commands) {
    current_digest = &d;
    current_commands = commands;
  }
  ~DigestScope() {
    current_digest = outer_;
    current_commands = outer_commands_;
  }
  DigestScope(const DigestScope&) = delete;
  DigestScope& operator=(const DigestScope&) = delete;

 private:
  const Digest* const outer_;
  DerivedRandomness* const outer_commands_;
};

// SHA-256 over the parts, each preceded by its length: no two different lists collide.
Digest DigestOf(std::initializer_list<std::string_view> parts) {
  std::string all;
  for (std::string_view p : parts) {
    all += std::to_string(p.size());
    all += ':';
    all += p;
  }
  return Sha256(all);
}

bool ValidKey(std::string_view key) {
  return !key.empty() && key.size() <= kMaxIdempotencyKeyBytes &&
         std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::optional<Digest> SecretOf(const std::optional<Digest>& operator_token_hash) {
  if (!operator_token_hash) return std::nullopt;
  std::string seed = "keymeter-idempotency:";
  AppendHex(&seed, *operator_token_hash);
  return Sha256(seed);
}

// The key of `request` when it has a valid one.
std::optional<std::string_view> ValidKeyOf(const http::Request& request) {
  const std::optional<std::string_view> key = request.Header("Idempotency-Key");
  return key && ValidKey(*key) ? key : std::nullopt;
}

}  // namespace

bool TakesIdempotencyKey(const http::Router::Route& route) {
  if (route.method != "POST" && route.method != "PUT" && route.method != "DELETE") return false;
  return route.pattern.starts_with("/v1/") && route.pattern != "/v1/authorize" &&
         route.pattern != "/v1/events";
}

const Digest* CurrentRequestDigest() { return current_digest; }

void NameCommand(EnvelopeHeader* header) {
  // current_commands is set with current_digest: null outside a keyed request.
  header->command_id =
      (current_digest != nullptr ? "idem_" : "cmd_") + RandomKeyChars(22, current_commands);
  if (current_digest != nullptr) header->request_digest = *current_digest;
}

http::Handler WithIdempotency(const std::optional<Digest>& operator_token_hash,
                              http::Handler inner) {
  const std::optional<Digest> secret = SecretOf(operator_token_hash);
  return [secret, inner = std::move(inner)](const http::Request& request,
                                            http::Response& response) {
    const std::optional<std::string_view> key = request.Header("Idempotency-Key");
    if (!key) return inner(request, response);
    if (!ValidKey(*key)) {
      return http::SetError(response, 400, Code::kInvalidField,
                            "Idempotency-Key: 1 to 255 visible ASCII characters");
    }
    if (!secret) {
      return http::SetError(response, 503, Code::kServiceUnavailable,
                            "Idempotency-Key needs KEYMETER_OPERATOR_TOKEN set (the secret a "
                            "retry's ids and keys are derived from)");
    }
    const std::string_view credential = request.Header("Authorization").value_or("");
    const Digest digest = DigestOf({request.method, request.target, request.body});
    // Command ids: the same for the key whatever the request, so the projector tells a retry
    // (same digest) from a reuse (another: 422). Keys and tokens: the same only for the same
    // request, so a reused key never hands out what another request got (another account's
    // token, a secret from a command id that the audit log shows).
    DerivedRandomness commands(*secret, DigestOf({"command ids", credential, *key}));
    DigestScope scope(digest, &commands);
    const std::string_view request_digest(reinterpret_cast<const char*>(digest.data()),
                                          digest.size());
    DerivedRandomness randomness(*secret, DigestOf({credential, *key, request_digest}));
    inner(request, response);
  };
}

std::optional<std::string> KeyedAccountId(const http::Request& request,
                                          const std::optional<Digest>& operator_token_hash) {
  const std::optional<std::string_view> key = ValidKeyOf(request);
  const std::optional<Digest> secret = SecretOf(operator_token_hash);
  if (!key || !secret) return std::nullopt;
  const std::string_view credential = request.Header("Authorization").value_or("");
  DerivedRandomness randomness(*secret, DigestOf({"account id", credential, *key}));
  return GenerateAccountId();
}

}  // namespace keymeter
