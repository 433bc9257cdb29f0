// ApiContext: what the operator, account-admin, member and n1ed endpoints share — the pipeline,
// the Authenticator (with its attempt limiter) and the API's options — and the credential check
// every handler starts with.
//
// The first Register{Admin,Member,Operator}Routes() call makes the ApiContext and keeps it in
// ServeContext::api; every handler holds a shared_ptr to it, so it lives as long as the router.
//
// Options come from the environment (they tune behaviour, not the contract):
//   KEYMETER_COMMAND_TIMEOUT_MS          how long a write waits for its outcome before it
//                                        answers 202 {"command_id"} (default 5000)
//   KEYMETER_BILLING_LATENESS_SECONDS    allowed lateness before a month is complete (3600)
//   KEYMETER_AUTH_FAILURES_PER_MINUTE    failed credentials per client address and minute
//                                        before 429 TOO_MANY_ATTEMPTS (10; 0 = no limit)
// A value that does not parse keeps the default (with a warning in the log).
//
// Thread safety: ApiContext is immutable after construction apart from the Authenticator,
// which is thread-safe. Authenticate() is safe from any handler thread.

#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "engine/auth.h"
#include "engine/cli_serve.h"
#include "engine/http_server.h"
#include "projections/time_buckets.h"
#include "schemas/status.h"

namespace keymeter {

class Pipeline;

struct ApiOptions {
  std::chrono::milliseconds command_timeout{5'000};
  TimeUs billing_lateness_us = kMicrosPerHour;
  uint32_t auth_failures_per_minute = 10;
  size_t auth_max_addresses = 10'000;

  static ApiOptions FromEnvironment();
};

class ApiContext {
 public:
  ApiContext(ServeContext& serve, ApiOptions options);

  ServeContext& serve;
  Pipeline& pipeline;
  const ApiOptions options;
  Authenticator auth;
};

// The ApiContext of `context`, made on the first call.
std::shared_ptr<ApiContext> ApiOf(ServeContext& context);

// The caller's credential when it has role `role`; otherwise writes the error and returns
// nullopt: 429 TOO_MANY_ATTEMPTS (with Retry-After) for a blocked address, 401 UNAUTHORIZED for
// a missing or unknown credential, 403 FORBIDDEN for a valid credential of another role (a
// member's key on an admin endpoint, an admin token on the operator's).
std::optional<Credential> Authenticate(ApiContext& api, const http::Request& request,
                                       http::Response& response, Role role);

// Wall-clock microseconds since the epoch (the event time of the ops the API publishes).
TimeUs NowUs();

// Writes `status` (code and message) as the error body with HTTP `http_status`.
void SetStatusError(http::Response& response, int http_status, const Status& status);

}  // namespace keymeter
