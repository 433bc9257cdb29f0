// Authenticator: resolves the credential a client presents to who it is (DESIGN §3).
//
//   operator token  → Role::kOperator        (SHA-256 of KEYMETER_OPERATOR_TOKEN, if configured)
//   admin token     → Role::kAccountAdmin    (its account, by the SHA-256 the directory keeps;
//                                             not once the operator revoked or replaced it)
//   gateway token   → Role::kGateway         (ResolveGateway() only: POST /v1/events)
//   a member's key  → Role::kMember          (a full 24-character key whose hash matches; the
//                                             old secret too while its rotation grace lasts)
//
// Contract:
// - Only digests are compared (DigestEqual, constant time); no plain token or key is stored,
//   logged or returned.
// - A credential that resolves to nothing is a failure recorded against the client address;
//   after too many the address is blocked for the rest of the window (AttemptLimiter) and every
//   Resolve() from it answers kRateLimited before looking at the credential. A missing
//   credential is not a failure.
// - A deleted key never authenticates. A pending or suspended member still reaches its own
//   /v1/me endpoints (it can see why it is denied).
// - Admin and gateway tokens are found through maps token digest → account id / gateway id,
//   rebuilt from the key directory whenever its credentials_version() moved on (an account
//   created, a token replaced or revoked, a gateway created or revoked).
//
// Thread safety: thread-safe. Resolve() takes the projector's state mutex shared, then the
// map's own mutex (never the other way round).

#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "api/attempt_limiter.h"
#include "http/server.h"
#include "schemas/ids.h"

namespace keymeter {

class KeyDirectory;
class Pipeline;

enum class Role { kNone, kOperator, kAccountAdmin, kMember, kGateway };

// Who a resolved credential belongs to.
struct Credential {
  Role role = Role::kNone;
  std::string account_id;  // kAccountAdmin and kMember
  KeyId key_id;            // kMember
  std::string gateway_id;  // kGateway
  // kMember: the key's old secret, still in its rotation grace. It authorizes requests
  // (GET/POST /v1/authorize) until the grace ends, and is refused by every member endpoint.
  bool grace_secret = false;
  // kMember: the key may change itself (rotate, allowed sources): neither suspended nor
  // pending in an account that requires confirmation (docs/api.md, Member).
  bool may_manage = false;
};

struct Resolution {
  enum class Failure { kNone, kMissing, kInvalid, kRateLimited };
  Failure failure = Failure::kNone;
  Credential credential;      // role kNone unless failure is kNone
  int64_t retry_after_s = 0;  // kRateLimited: seconds until the address may try again
};

class Authenticator {
 public:
  Authenticator(Pipeline& pipeline, std::optional<Digest> operator_token_hash,
                AttemptLimiter::Options limits);
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Any of the three credentials, presented by `address`.
  Resolution Resolve(std::string_view secret, std::string_view address);
  // Only an admin token (the n1ed endpoint's adminToken): anything else is kInvalid.
  Resolution ResolveAdminToken(std::string_view token, std::string_view address);
  // Only a gateway token that is not revoked (POST /v1/events): anything else is kInvalid.
  Resolution ResolveGateway(std::string_view token, std::string_view address);

  bool operator_enabled() const { return operator_token_hash_.has_value(); }
  // Seconds until `address` may present credentials again; 0 when it may now.
  int64_t BlockedFor(std::string_view address) const {
    return limiter_.BlockedFor(address, AttemptLimiter::Clock::now());
  }

  // For routing in a cluster (api/forwarding.h): what `secret` is as far as this member's
  // directory knows, with no attempt recorded and no secret checked beyond the operator token
  // (the member that owns the account checks it). A member key names its account through its
  // key id; a gateway token belongs to kGatewaysAccount.
  struct Located {
    enum class Kind { kNone, kOperator, kAccount, kUnknown };
    Kind kind = Kind::kNone;
    std::string account_id;  // kAccount
  };
  Located Locate(std::string_view secret);

 private:
  std::optional<std::string> AccountOfToken(const Digest& digest);
  // Rebuilds the token maps if the directory's credentials changed since they were built.
  void RefreshLocked(const KeyDirectory& directory) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<Credential> MemberOf(std::string_view key, const Digest& digest);
  Resolution Fail(std::string_view address, AttemptLimiter::Clock::time_point now);
  // kRateLimited with its Retry-After when `address` is blocked; nullopt when it may try.
  std::optional<Resolution> Blocked(std::string_view address,
                                    AttemptLimiter::Clock::time_point now) const;

  Pipeline& pipeline_;
  const std::optional<Digest> operator_token_hash_;
  AttemptLimiter limiter_;

  std::mutex mu_;
  absl::flat_hash_map<Digest, std::string> account_by_token_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Digest, std::string> gateway_by_token_ ABSL_GUARDED_BY(mu_);
  uint64_t known_version_ ABSL_GUARDED_BY(mu_) = ~uint64_t{0};
};

}  // namespace keymeter
