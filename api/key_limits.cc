// Limits endpoints (docs/api.md, "Limits"): a key's rate limits, a child's caps (key_settings.cc
// has PUT /cap), expiry, and a root key's credits.
//
//   PUT  /v1/keys/{id}/rate-limits {"per_second","per_minute","per_hour"}   admin; 0/absent = none
//   PUT  /v1/keys/{id}/expiry      {"expires_at": RFC 3339 | null}          admin; null = never
//   POST /v1/keys/{id}/credits     {"units": ±n, "reason"}                  admin or operator
//   PUT  /v1/keys/{id}/credits     {"enabled","refill_units","refill_period","rollover"}
//                                                                           admin or operator
//   GET  /v1/keys/{id}/credits     → {"key_id","credits": {...}|null,
//                                     "entries": [the audit entries of its credits ops],
//                                     "next_cursor"}                        admin or operator
// Writes answer the key (KeyDetail::kAdmin) once the op is applied; the projector's refusals
// (NOT-A-ROOT-KEY for credits on a child, INVALID-EXPIRY) come back as for every op.

#include <limits>

#include "api/internal.h"
#include "api/logs.h"
#include "consumers/ndjson.h"

namespace keymeter {

namespace {

constexpr uint64_t kMaxCount = std::numeric_limits<int64_t>::max();
// Credits moved by one op: enough for any plan, far from int64's edge.
constexpr int64_t kMaxCreditUnits = 1'000'000'000'000'000;

// The caller (an admin, or the operator on any account's key) and the {id} key, or nullopt
// after writing the error. `*actor` is the one to publish as.
std::optional<KeyView> AdminOrOperatorKey(ApiContext& api, const http::Request& request,
                                          http::Response& response, Actor* actor) {
  std::optional<Credential> who =
      Authenticate(api, request, response, {Role::kAccountAdmin, Role::kOperator});
  if (!who) return std::nullopt;
  if (who->role == Role::kAccountAdmin) {
    *actor = Actor{};
    return PathKey(api, *who, request, response);
  }
  *actor = kOperatorActor;
  std::optional<KeyView> key;
  if (std::optional<KeyId> id = KeyId::Parse(request.PathParam("id"))) {
    key = FindKeyView(api.pipeline, *id);
  }
  if (!key) http::SetError(response, 404, Code::kNotFound, "no such key");
  return key;
}

// Publishes the op `build` makes for `key` as `actor` and answers the key once applied.
template <class Build>
void Publish(ApiContext& api, const KeyView& key, const Actor& actor, http::Response& response,
             Build&& build) {
  const CommandOutcome outcome = RunCommand(api, key.account_id, actor, build);
  if (AnswerUnlessOk(outcome, response)) return;
  AnswerKey(api, key.key_id, KeyDetail::kAdmin, response);
}

void SetRateLimits(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key = PathKey(api, *admin, request, response);
  if (!key) return;
  std::optional<JsonBody> body = BodyOr400(request, response, {"per_second", "per_minute", "per_hour"});
  if (!body) return;
  RateLimits limits;
  for (const auto& [name, field] : {std::pair{"per_second", &limits.per_second},
                                    std::pair{"per_minute", &limits.per_minute},
                                    std::pair{"per_hour", &limits.per_hour}}) {
    auto value = ValueOr400(body->Uint(name, kMaxCount), response);
    if (!value) return;
    *field = value->value_or(0);
  }
  Publish(api, *key, Actor{}, response,
          [&](const EnvelopeHeader& h) { return BuildRateLimitSet(h, key->key_id, limits); });
}

void SetExpiry(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key = PathKey(api, *admin, request, response);
  if (!key) return;
  std::optional<JsonBody> body = BodyOr400(request, response, {"expires_at"});
  if (!body) return;
  TimeUs at = 0;
  if (!ReadExpiresAt(*body, response, &at)) return;
  Publish(api, *key, Actor{}, response,
          [&](const EnvelopeHeader& h) { return BuildKeyExpirySet(h, key->key_id, at); });
}

void AddCredits(ApiContext& api, const http::Request& request, http::Response& response) {
  Actor actor;
  std::optional<KeyView> key = AdminOrOperatorKey(api, request, response, &actor);
  if (!key) return;
  std::optional<JsonBody> body = BodyOr400(request, response, {"units", "reason"});
  if (!body) return;
  auto units = ValueOr400(body->Int("units", kMaxCreditUnits), response);
  if (!units) return;
  if (!*units || **units == 0) {
    return http::SetError(response, 400, Code::kMissingField,
                          "units: a non-zero integer (negative takes units back)");
  }
  auto reason = ValueOr400(body->String("reason", kMaxLabelBytes), response);
  if (!reason) return;
  Publish(api, *key, actor, response, [&](const EnvelopeHeader& h) {
    return BuildCreditsAdded(h, key->key_id, **units, reason->value_or(""));
  });
}

void SetCredits(ApiContext& api, const http::Request& request, http::Response& response) {
  Actor actor;
  std::optional<KeyView> key = AdminOrOperatorKey(api, request, response, &actor);
  if (!key) return;
  std::optional<JsonBody> body =
      BodyOr400(request, response, {"enabled", "refill_units", "refill_period", "rollover"});
  if (!body) return;
  auto enabled = ValueOr400(body->Bool("enabled"), response);
  if (!enabled) return;
  auto units = ValueOr400(body->Uint("refill_units", uint64_t(kMaxCreditUnits)), response);
  if (!units) return;
  auto period_text = ValueOr400(body->String("refill_period", 16), response);
  if (!period_text) return;
  auto rollover = ValueOr400(body->Bool("rollover"), response);
  if (!rollover) return;
  fb::RefillPeriod period = fb::RefillPeriod::None;
  if (*period_text && **period_text == "day") {
    period = fb::RefillPeriod::Day;
  } else if (*period_text && **period_text == "month") {
    period = fb::RefillPeriod::Month;
  } else if (*period_text) {
    return http::SetError(response, 400, Code::kInvalidField,
                          "refill_period: \"day\" or \"month\" (absent: no refill)");
  }
  if ((period == fb::RefillPeriod::None) != (units->value_or(0) == 0)) {
    return http::SetError(response, 400, Code::kInvalidField,
                          "refill_units and refill_period go together (neither: no refill)");
  }
  Publish(api, *key, actor, response, [&](const EnvelopeHeader& h) {
    return BuildCreditsConfigSet(h, key->key_id, enabled->value_or(true), units->value_or(0),
                                 period, rollover->value_or(false));
  });
}

void GetCredits(ApiContext& api, const http::Request& request, http::Response& response) {
  Actor actor;
  std::optional<KeyView> key = AdminOrOperatorKey(api, request, response, &actor);
  if (!key) return;
  AnswerAuditOf(api.pipeline, key->account_id, KeyId::Parse(key->key_id), request, response,
              {"CreditsAdded", "CreditsConfigSet"}, [&](http::JsonWriter& json) {
                json.Key("key_id").String(key->key_id);
                json.Key("credits");
                if (key->is_child()) {
                  json.Null();
                } else {
                  WriteCredits(json, key->credits, key->credits_balance);
                }
              });
}

}  // namespace

bool ReadExpiresAt(const JsonBody& body, http::Response& response, TimeUs* at) {
  *at = 0;
  auto text = ValueOr400(body.String("expires_at", 64), response);
  if (!text) return false;
  if (!*text) return true;
  Result<TimeUs> parsed = ParseRfc3339(**text);
  if (!parsed || parsed.value() <= 0) {
    http::SetError(response, 400, Code::kInvalidField,
                   "expires_at: an RFC 3339 time after 1970 (\"2027-01-31T00:00:00Z\"), or null "
                   "for never");
    return false;
  }
  *at = parsed.value();
  return true;
}

void RegisterKeyLimitRoutes(http::Router& router, const ApiPtr& api) {
  const std::tuple<const char*, const char*, void (*)(ApiContext&, const http::Request&,
                                                      http::Response&)>
      routes[] = {
          {"PUT", "/v1/keys/{id}/rate-limits", SetRateLimits},
          {"PUT", "/v1/keys/{id}/expiry", SetExpiry},
          {"POST", "/v1/keys/{id}/credits", AddCredits},
          {"PUT", "/v1/keys/{id}/credits", SetCredits},
          {"GET", "/v1/keys/{id}/credits", GetCredits},
      };
  for (const auto& [method, pattern, fn] : routes) {
    router.Add(method, pattern,
               [api, fn = fn](const http::Request& request, http::Response& response) {
                 fn(*api, request, response);
               });
  }
}

}  // namespace keymeter
