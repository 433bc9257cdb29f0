#include "api/context.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <shared_mutex>
#include <string>

#include "api/client_address.h"
#include "api/views.h"
#include "engine/pipeline.h"
#include "http/json.h"
#include "schemas/clock.h"

namespace keymeter {

namespace {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOperator:
      return "the operator token";
    case Role::kAccountAdmin:
      return "an account admin token";
    case Role::kMember:
      return "a member's own key";
    case Role::kGateway:
      return "a gateway token";
    case Role::kNone:
      break;
  }
  return "a credential";
}

}  // namespace

ApiContext::ApiContext(ServeContext& serve_context, ApiOptions api_options)
    : serve(serve_context),
      pipeline(serve_context.pipeline),
      options(api_options),
      auth(serve_context.pipeline, api_options.operator_token_hash,
           AttemptLimiter::Options{.max_failures = api_options.auth_failures_per_minute,
                                   .window = std::chrono::seconds(60),
                                   .max_addresses = api_options.auth_max_addresses}),
      refusals(AttemptLimiter::Options{.max_failures = api_options.refused_commands_per_minute,
                                       .window = std::chrono::seconds(60),
                                       .max_addresses = api_options.auth_max_addresses}) {}

std::shared_ptr<ApiContext> ApiOf(ServeContext& context) {
  if (!context.api) {
    context.api = std::make_shared<ApiContext>(context, context.options);
  }
  return context.api;
}

Freshness AccountFreshness(Pipeline& pipeline, std::string_view account_id) {
  std::shared_lock lock(pipeline.projector().state_mutex());
  return pipeline.projector().FreshnessOf(account_id).value_or(Freshness());
}

std::optional<Credential> Authenticate(ApiContext& api, const http::Request& request,
                                       http::Response& response, Role role) {
  return Authenticate(api, request, response, {role});
}

std::optional<Credential> Authenticate(ApiContext& api, const http::Request& request,
                                       http::Response& response, std::initializer_list<Role> roles) {
  const Role role = *roles.begin();
  std::string wanted;
  for (Role r : roles) wanted += (wanted.empty() ? "" : " or ") + std::string(RoleName(r));
  const std::optional<std::string_view> token = request.BearerToken();
  const std::string_view secret = token.value_or(std::string_view());
  const std::string address = ClientAddress(request, api.options.trusted_proxies);
  Resolution r = role == Role::kGateway ? api.auth.ResolveGateway(secret, address)
                                        : api.auth.Resolve(secret, address);
  switch (r.failure) {
    case Resolution::Failure::kRateLimited:
      http::SetError(response, 429, Code::kTooManyAttempts,
                     "too many failed credentials from this address; retry later");
      response.SetHeader("Retry-After", std::to_string(r.retry_after_s));
      return std::nullopt;
    case Resolution::Failure::kMissing:
      http::SetError(
          response, 401, Code::kUnauthorized,
          "this endpoint needs 'Authorization: Bearer <" + wanted + ">'");
      response.SetHeader("WWW-Authenticate", "Bearer");
      return std::nullopt;
    case Resolution::Failure::kInvalid:
      http::SetError(response, 401, Code::kUnauthorized, "the credential is not valid");
      response.SetHeader("WWW-Authenticate", "Bearer");
      return std::nullopt;
    case Resolution::Failure::kNone:
      break;
  }
  if (std::find(roles.begin(), roles.end(), r.credential.role) == roles.end()) {
    http::SetError(response, 403, Code::kForbidden, "this endpoint needs " + wanted);
    return std::nullopt;
  }
  // The old secret of a rotation in its grace only authorizes (every member endpoint: /v1/me*,
  // the alerts).
  if (r.credential.role == Role::kMember && r.credential.grace_secret) {
    http::SetError(response, 403, Code::kForbidden,
                   "the old secret of a rotation only authorizes requests until its grace ends; "
                   "use the new key");
    return std::nullopt;
  }
  // Every answer to a credential says how fresh what it reads is: the account's partition, or
  // for the operator every partition held.
  SetFreshnessHeaders(r.credential.account_id.empty()
                          ? api.pipeline.projector().EngineFreshness()
                          : AccountFreshness(api.pipeline, r.credential.account_id),
                      response);
  return std::move(r.credential);
}

void SetStatusError(http::Response& response, int http_status, const Status& status) {
  http::SetError(response, http_status, status.code(), status.message());
}

}  // namespace keymeter
