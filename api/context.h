// ServeContext: everything a route handler may reach — the engine's handles, the router, the
// metrics and the API's options, filled by the caller (`keymeter serve`, tests, the fuzz target).
// ApiContext: what the operator, account-admin, member and n1ed endpoints share — the pipeline,
// the Authenticator (with its attempt limiter) and the API's options — and the credential check
// every handler starts with.
//
// The first Register{Admin,Member,Operator}Routes() call makes the ApiContext and keeps it in
// ServeContext::api; every handler holds a shared_ptr to it, so it lives as long as the router.
//
// ApiOptions tune behaviour, not the contract; `keymeter serve` fills them from
// KEYMETER_COMMAND_TIMEOUT_MS, KEYMETER_BILLING_LATENESS_SECONDS and
// KEYMETER_AUTH_FAILURES_PER_MINUTE (cli/serve.h).
//
// Thread safety: ServeContext and ApiContext are immutable once the server runs apart from the
// Authenticator, which is thread-safe. Authenticate() is safe from any handler thread.

#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/auth.h"
#include "engine/freshness.h"
#include "http/router.h"
#include "http/server.h"
#include "projections/allowed_sources.h"
#include "projections/time_buckets.h"
#include "schemas/clock.h"
#include "schemas/status.h"

namespace keymeter {

class ApiContext;
class Authorizer;
class Cluster;
class KeyDirectory;
class Metrics;
class Pipeline;
class ProjectorProbe;
class Store;

struct ApiOptions {
  // How long a write waits for its outcome before it answers 202 {"command_id"}.
  std::chrono::milliseconds command_timeout{5'000};
  // Allowed lateness before a month is complete (GET /v1/billing/usage).
  TimeUs billing_lateness_us = kMicrosPerHour;
  // Failed credentials per client address and minute before 429 TOO_MANY_ATTEMPTS (0: no limit).
  uint32_t auth_failures_per_minute = 10;
  size_t auth_max_addresses = 10'000;
  // Commands of one account the projector refuses for naming a key that is not the account's
  // (NO-SUCH-API-KEY, UNABLE-TO-CHANGE-NOT-OWN-API-KEY) per minute, before the account's
  // commands answer 429 TOO_MANY_ATTEMPTS: key ids can't be enumerated (0: no limit).
  uint32_t refused_commands_per_minute = 20;
  // Most units one request event of POST /v1/events may carry (UNITS_TOO_LARGE above it).
  uint32_t max_event_units = 1'000'000;
  // SHA-256 of the operator token (the plain token is not kept); unset = the operator
  // endpoints answer 401.
  std::optional<Digest> operator_token_hash;
  // Reverse proxies whose X-Real-IP / X-Forwarded-For name the client (api/client_address.h);
  // empty = every peer is the client.
  std::vector<Cidr> trusted_proxies;
};

// Everything a route handler may reach. Outlives the server: it is stopped before any of this
// is destroyed.
struct ServeContext {
  ApiOptions options;
  Store& store;
  KeyDirectory& directory;
  http::Router& router;
  Metrics& metrics;
  Pipeline& pipeline;
  // Answers GET /readyz: {ready, reason when not}. Replaced by the projector's catch-up
  // state once there is one; must be thread-safe.
  std::function<std::pair<bool, std::string>()> readiness = [] {
    return std::pair<bool, std::string>(true, "");
  };
  // State of the operator/admin/member/n1ed API, made by the first
  // Register{Admin,Member,Operator}Routes() call.
  std::shared_ptr<ApiContext> api;
  // Decides GET/POST /v1/authorize (api/gateway.h); thread-safe.
  Authorizer* authorizer = nullptr;
  // The projector's metrics; /metrics refreshes RocksDB's live data size through it.
  ProjectorProbe* projector_probe = nullptr;
  // This process's part in a cluster (Kafka mode), set once it runs; null for one process on
  // its own. Atomic: `keymeter serve` sets it after the server started (it advertises the port
  // the server got).
  std::atomic<Cluster*> cluster{nullptr};
};

class ApiContext {
 public:
  ApiContext(ServeContext& serve, ApiOptions options);

  ServeContext& serve;
  Pipeline& pipeline;
  const ApiOptions options;
  Authenticator auth;
  // Refused commands per account (ApiOptions::refused_commands_per_minute); thread-safe.
  AttemptLimiter refusals;
  // Streamed request-log exports running now (GET /v1/requests/export; each holds an offload
  // thread while its client reads).
  std::atomic<int> exports_running{0};
};

// The ApiContext of `context`, made on the first call.
std::shared_ptr<ApiContext> ApiOf(ServeContext& context);

// The caller's credential when it has role `role`; otherwise writes the error and returns
// nullopt: 429 TOO_MANY_ATTEMPTS (with Retry-After) for a blocked address, 401 UNAUTHORIZED for
// a missing or unknown credential, 403 FORBIDDEN for a valid credential of another role (a
// member's key on an admin endpoint, an admin token on the operator's), 403 FORBIDDEN too for a
// member's old secret still in its rotation's grace (it only authorizes). On success the answer
// gets X-Keymeter-Watermark and X-Keymeter-Lag (api/views.h): the freshness of the credential's
// account, or for the operator of every partition held.
std::optional<Credential> Authenticate(ApiContext& api, const http::Request& request,
                                       http::Response& response, Role role);
// The same for a credential with any of `roles` (not empty; the first names it in a 401).
std::optional<Credential> Authenticate(ApiContext& api, const http::Request& request,
                                       http::Response& response, std::initializer_list<Role> roles);

// How fresh the state of `account_id` is (its partition; a default Freshness, lag 0 and no
// watermark, for an account on no partition held here).
Freshness AccountFreshness(Pipeline& pipeline, std::string_view account_id);

// Writes `status` (code and message) as the error body with HTTP `http_status`.
void SetStatusError(http::Response& response, int http_status, const Status& status);

}  // namespace keymeter
