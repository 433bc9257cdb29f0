// Internals shared by the API's route files (api_keys.cc, api_key_settings.cc, api_reads.cc,
// api_n1ed.cc, api_member.cc, api_operator.cc, api_billing.cc). Not part of any contract.
//
// Thread safety: every function is safe from any handler thread.

#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/body.h"
#include "api/command.h"
#include "api/context.h"
#include "api/views.h"
#include "http/router.h"
#include "schemas/envelope.h"

namespace keymeter {

using ApiPtr = std::shared_ptr<ApiContext>;

// Route files.
void RegisterKeyWriteRoutes(http::Router& router, const ApiPtr& api);
void RegisterKeySettingRoutes(http::Router& router, const ApiPtr& api);
// Rate limits, expiry and credits (key_limits.cc).
void RegisterKeyLimitRoutes(http::Router& router, const ApiPtr& api);
// The body's "expires_at" (RFC 3339, after 1970; absent or null: 0, never) into `*at`; false
// after writing 400.
bool ReadExpiresAt(const JsonBody& body, http::Response& response, TimeUs* at);
void RegisterAdminReadRoutes(http::Router& router, const ApiPtr& api);
void RegisterN1edRoutes(http::Router& router, const ApiPtr& api);
// The n1ed endpoint's path, and its answer (seed 001: always 200, {"error": null, "data": "OK"}
// for kOk, else {"error": "<CODE>", "data": null}) — also for what a cluster member answers on
// its behalf (api/forwarding.cc).
inline constexpr std::string_view kN1edPath = "/a/admin/api-key-set-parent";
void AnswerN1ed(http::Response& response, Code code);
void RegisterBillingRoutes(http::Router& router, const ApiPtr& api);
void RegisterGatewayAdminRoutes(http::Router& router, const ApiPtr& api);
// GET /v1/cluster (cluster_view.cc).
void RegisterClusterRoutes(http::Router& router, const ApiPtr& api);
void RegisterDeadLetterRoutes(http::Router& router, const ApiPtr& api);  // dead_letters.cc
void RegisterRequestExportRoute(http::Router& router, const ApiPtr& api);  // exports.cc
void RegisterAdjustmentRoutes(http::Router& router, const ApiPtr& api);    // adjustments.cc
void RegisterAlertRoutes(http::Router& router, const ApiPtr& api);         // alerts.cc
void RegisterWebhookRoutes(http::Router& router, const ApiPtr& api);       // webhooks.cc

// Limits on what a body may carry: lists as schemas/envelope.h's kMaxListItems and
// kMaxItemBytes (the projector enforces the counts too), labels and names as long as an item.
constexpr size_t kMaxLabelBytes = kMaxItemBytes;
constexpr uint64_t kMaxGraceSeconds = 30 * 24 * 3600;

// The key of `admin`'s account named by the {id} path parameter, or nullopt after writing 404
// NOT_FOUND (unknown, malformed and another account's keys answer alike).
std::optional<KeyView> PathKey(ApiContext& api, const Credential& admin,
                               const http::Request& request, http::Response& response);

// The key named by query parameter "key" when present: `*key` set, or false after writing 404
// NOT_FOUND. True with `*key` unset when the parameter is absent.
bool QueryKey(ApiContext& api, const Credential& admin, const http::Request& request,
              http::Response& response, std::optional<KeyView>* key);

// The request's JSON body limited to `fields`, or nullopt after writing 400.
std::optional<JsonBody> BodyOr400(const http::Request& request, http::Response& response,
                                  std::initializer_list<std::string_view> fields);

// The value of `result`, or nullopt after writing 400 with its error.
template <class T>
std::optional<T> ValueOr400(Result<T> result, http::Response& response) {
  if (!result) {
    SetStatusError(response, 400, result.error());
    return std::nullopt;
  }
  return std::move(result.value());
}

// 200 with the current view of `key_id` (after an op on it was applied).
void AnswerKey(ApiContext& api, const std::string& key_id, KeyDetail detail,
               http::Response& response);

// The parent as published, by seed 001's rules: "" (remove) stays "", 1..7 characters go as
// given (the projector answers INVALID-PARENT-API-KEY), an 8-character id or a 24-character key
// becomes its 8-character id; anything else is UNABLE-TO-SET-PARENT-API-KEY at once (no such
// key can exist; the text is not echoed: it may be most of a key).
Result<std::string> NormalizeParent(std::string_view text);

// POST .../rotate for the admin and the member: body {"grace_seconds"}; 200 {"key","key_id",
// "grace_until"}.
void RotateCommand(ApiContext& api, const std::string& account_id, const Actor& actor,
                   const KeyView& key, const http::Request& request, http::Response& response);
// PUT .../allowed-sources for the admin and the member: body {"ips","domains"}.
void AllowedSourcesCommand(ApiContext& api, const std::string& account_id, const Actor& actor,
                           const KeyView& key, KeyDetail detail, const http::Request& request,
                           http::Response& response);

}  // namespace keymeter
