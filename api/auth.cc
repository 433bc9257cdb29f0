#include "api/auth.h"

#include <algorithm>

#include <chrono>
#include <shared_mutex>

#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "projections/key_directory.h"
#include "schemas/clock.h"
#include "schemas/envelope.h"

namespace keymeter {

Authenticator::Authenticator(Pipeline& pipeline, std::optional<Digest> operator_token_hash,
                             AttemptLimiter::Options limits)
    : pipeline_(pipeline), operator_token_hash_(operator_token_hash), limiter_(limits) {}

Resolution Authenticator::Fail(std::string_view address, AttemptLimiter::Clock::time_point now) {
  limiter_.RecordFailure(address, now);
  Resolution r;
  r.failure = Resolution::Failure::kInvalid;
  return r;
}

std::optional<Resolution> Authenticator::Blocked(std::string_view address,
                                                AttemptLimiter::Clock::time_point now) const {
  const int64_t wait = limiter_.BlockedFor(address, now);
  if (wait <= 0) return std::nullopt;
  Resolution r;
  r.failure = Resolution::Failure::kRateLimited;
  r.retry_after_s = wait;
  return r;
}

Resolution Authenticator::Resolve(std::string_view secret, std::string_view address) {
  const auto now = AttemptLimiter::Clock::now();
  if (std::optional<Resolution> blocked = Blocked(address, now)) return *blocked;
  Resolution r;
  if (secret.empty()) {
    r.failure = Resolution::Failure::kMissing;
    return r;
  }
  const Digest digest = Sha256(secret);
  if (operator_token_hash_ && DigestEqual(*operator_token_hash_, digest)) {
    r.credential.role = Role::kOperator;
    return r;
  }
  if (std::optional<std::string> account = AccountOfToken(digest)) {
    r.credential.role = Role::kAccountAdmin;
    r.credential.account_id = std::move(*account);
    return r;
  }
  if (std::optional<Credential> member = MemberOf(secret, digest)) {
    r.credential = std::move(*member);
    return r;
  }
  return Fail(address, now);
}

Resolution Authenticator::ResolveAdminToken(std::string_view token, std::string_view address) {
  const auto now = AttemptLimiter::Clock::now();
  if (std::optional<Resolution> blocked = Blocked(address, now)) return *blocked;
  if (token.empty()) return Fail(address, now);
  Resolution r;
  std::optional<std::string> account = AccountOfToken(Sha256(token));
  if (!account) return Fail(address, now);
  r.credential.role = Role::kAccountAdmin;
  r.credential.account_id = std::move(*account);
  return r;
}

Resolution Authenticator::ResolveGateway(std::string_view token, std::string_view address) {
  const auto now = AttemptLimiter::Clock::now();
  if (std::optional<Resolution> blocked = Blocked(address, now)) return *blocked;
  Resolution r;
  if (token.empty()) {
    r.failure = Resolution::Failure::kMissing;
    return r;
  }
  const Digest digest = Sha256(token);
  std::shared_lock state(pipeline_.projector().state_mutex());
  const KeyDirectory& directory = pipeline_.directory();
  std::lock_guard lock(mu_);
  RefreshLocked(directory);
  auto it = gateway_by_token_.find(digest);
  if (it == gateway_by_token_.end()) return Fail(address, now);
  const GatewayState* gateway = directory.FindGateway(it->second);
  if (gateway == nullptr || gateway->revoked() || !DigestEqual(gateway->token_hash, digest)) {
    return Fail(address, now);
  }
  r.credential.role = Role::kGateway;
  r.credential.gateway_id = gateway->gateway_id;
  return r;
}

Authenticator::Located Authenticator::Locate(std::string_view secret) {
  Located out;
  if (secret.empty()) return out;
  const Digest digest = Sha256(secret);
  if (operator_token_hash_ && DigestEqual(*operator_token_hash_, digest)) {
    out.kind = Located::Kind::kOperator;
    return out;
  }
  out.kind = Located::Kind::kUnknown;
  std::shared_lock state(pipeline_.projector().state_mutex());
  const KeyDirectory& directory = pipeline_.directory();
  if (secret.size() == kKeyLength && std::all_of(secret.begin(), secret.end(), IsKeyChar)) {
    if (const KeyState* key = directory.FindKey(*KeyId::Parse(secret))) {
      out.kind = Located::Kind::kAccount;
      out.account_id = key->account_id;
    }
    return out;
  }
  std::lock_guard lock(mu_);
  RefreshLocked(directory);
  if (auto it = account_by_token_.find(digest); it != account_by_token_.end()) {
    out.kind = Located::Kind::kAccount;
    out.account_id = it->second;
  } else if (gateway_by_token_.contains(digest)) {
    out.kind = Located::Kind::kAccount;
    out.account_id = std::string(kGatewaysAccount);
  }
  return out;
}

void Authenticator::RefreshLocked(const KeyDirectory& directory) {
  if (directory.credentials_version() == known_version_) return;
  account_by_token_.clear();
  directory.ForEachAccount([this](const AccountState& account) {
    if (!account.admin_token_revoked) {
      account_by_token_.insert_or_assign(account.admin_token_hash, account.account_id);
    }
  });
  gateway_by_token_.clear();
  for (const GatewayState* g : directory.Gateways()) {
    if (!g->revoked()) gateway_by_token_.insert_or_assign(g->token_hash, g->gateway_id);
  }
  known_version_ = directory.credentials_version();
}

std::optional<std::string> Authenticator::AccountOfToken(const Digest& digest) {
  std::shared_lock state(pipeline_.projector().state_mutex());
  const KeyDirectory& directory = pipeline_.directory();
  std::lock_guard lock(mu_);
  RefreshLocked(directory);
  auto it = account_by_token_.find(digest);
  if (it == account_by_token_.end()) return std::nullopt;
  const AccountState* account = directory.FindAccount(it->second);
  if (account == nullptr || account->admin_token_revoked ||
      !DigestEqual(account->admin_token_hash, digest)) {
    return std::nullopt;
  }
  return account->account_id;
}

std::optional<Credential> Authenticator::MemberOf(std::string_view key, const Digest& digest) {
  if (key.size() != kKeyLength) return std::nullopt;
  for (char c : key) {
    if (!IsKeyChar(c)) return std::nullopt;
  }
  const std::optional<KeyId> id = KeyId::Parse(key);
  std::shared_lock state(pipeline_.projector().state_mutex());
  const KeyState* found = pipeline_.directory().FindKey(*id);
  if (found == nullptr || found->status == fb::KeyStatus::Deleted) return std::nullopt;
  const bool current = DigestEqual(found->secret_hash, digest);
  const KeyExtras& x = found->extras();
  const bool in_grace = x.has_old_secret && NowUs() < x.grace_until_us &&
                        DigestEqual(x.old_secret_hash, digest);
  if (!current && !in_grace) return std::nullopt;
  Credential c;
  c.role = Role::kMember;
  c.account_id = found->account_id;
  c.key_id = found->id;
  c.grace_secret = !current;
  const AccountState* account = pipeline_.directory().FindAccount(found->account_id);
  const bool unconfirmed = found->status == fb::KeyStatus::Pending && account != nullptr &&
                           account->require_confirmation;
  c.may_manage = found->status != fb::KeyStatus::Suspended && !unconfirmed;
  return c;
}

}  // namespace keymeter
