// Webhook endpoints of an account (docs/api.md "Webhooks"), account admin only:
//
//   POST   /v1/webhooks {"url", "events"}   WebhookCreated; 201 the webhook and its "secret",
//                                           shown this once
//   GET    /v1/webhooks                      {"webhooks": [webhook...]}
//   GET    /v1/webhooks/{id}                 the webhook
//   DELETE /v1/webhooks/{id}                 WebhookDeleted; 200 {"webhook_id","deleted":true}
//   GET    /v1/webhooks/{id}/deliveries?state=&limit=&cursor=
//          its delivery log, newest alert first: {"deliveries": [delivery...], "next_cursor"}
//
// webhook  := {"webhook_id","url","events","created"}
// delivery := {"alert_id","type","state","attempts","last_attempt","last_status","last_error",
//              "next_attempt"}

#include "api/webhooks.h"

#include <shared_mutex>

#include "api/internal.h"
#include "api/params.h"
#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "engine/store.h"
#include "http/json.h"
#include "http/outbound.h"
#include "projections/alerts.h"
#include "projections/key_directory.h"
#include "projections/webhooks.h"
#include "schemas/civil_time.h"
#include "schemas/hex.h"

namespace keymeter {

std::optional<std::string> WebhookSecret(const std::optional<Digest>& operator_token_hash,
                                         std::string_view webhook_id) {
  if (!operator_token_hash) return std::nullopt;
  std::string seed = "keymeter-webhooks:";
  AppendHex(&seed, *operator_token_hash);
  const Digest key = Sha256(seed);
  const Digest mac = HmacSha256(
      std::string_view(reinterpret_cast<const char*>(key.data()), key.size()), webhook_id);
  return "whsec_" + ToHex(mac);
}

std::string SignDelivery(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  std::string signed_text = std::to_string(unix_seconds);
  signed_text.push_back('.');
  signed_text.append(body);
  std::string header = "t=" + std::to_string(unix_seconds);
  header.append(",v1=");
  AppendHex(&header, HmacSha256(secret, signed_text));
  return header;
}

void WriteAlertFields(JsonWriter& json, const Alert& a) {
  json.Key("alert_id").String(a.alert_id);
  json.Key("type").String(AlertEventName(a));
  json.Key("key_id").String(a.key_id).Key("metric").String(a.metric);
  json.Key("percent").Uint(a.percent).Key("limit").Uint(a.limit).Key("value").Uint(a.value);
  json.Key("window_start").String(FormatRfc3339(a.window_start_us));
  json.Key("time").String(FormatRfc3339(a.time_us, true));
  json.Key("resolves");
  a.resolves.empty() ? json.Null() : json.String(a.resolves);
}

std::string DeliveryBody(const Alert& a) {
  JsonWriter json;
  json.BeginObject().Key("id").String(a.alert_id).Key("type").String(AlertEventName(a));
  json.Key("created").String(FormatRfc3339(a.time_us, true));
  json.Key("account_id").String(a.account_id).Key("data").BeginObject();
  WriteAlertFields(json, a);
  json.EndObject().EndObject();
  return json.Take();
}

std::optional<WebhookState> FindWebhook(Pipeline& pipeline, std::string_view account_id,
                                        std::string_view webhook_id) {
  std::shared_lock lock(pipeline.projector().state_mutex());
  const AccountState* account = pipeline.directory().FindAccount(account_id);
  if (account == nullptr) return std::nullopt;
  for (const WebhookState& w : account->webhooks()) {
    if (w.webhook_id == webhook_id) return w;
  }
  return std::nullopt;
}

namespace {

void WriteWebhook(JsonWriter& json, const WebhookState& w) {
  json.Key("webhook_id").String(w.webhook_id).Key("url").String(w.url);
  json.Key("events").BeginArray();
  for (std::string_view name : WebhookEventNames(w.events)) json.String(name);
  json.EndArray().Key("created").String(FormatRfc3339(w.created_us));
}

// The admin's webhook named by the path, copied under the state lock; nullopt after 404.
std::optional<WebhookState> PathWebhook(ApiContext& api, const Credential& admin,
                                        const http::Request& request, http::Response& response) {
  std::optional<WebhookState> w = FindWebhook(api.pipeline, admin.account_id,
                                              request.PathParam("id"));
  if (!w) http::SetError(response, 404, Code::kNoSuchWebhook, "no such webhook");
  return w;
}

void Create(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<JsonBody> body = BodyOr400(request, response, {"url", "events"});
  if (!body) return;
  auto url = ValueOr400(body->String("url", kMaxWebhookUrlBytes), response);
  if (!url) return;
  auto events = ValueOr400(body->Strings("events", 2, 32), response);
  if (!events) return;
  if (!*url) return http::SetError(response, 400, Code::kMissingField, "url");
  if (Result<http::OutboundUrl> parsed = http::ParseOutboundUrl(**url); !parsed) {
    return http::SetError(response, 400, Code::kInvalidField, "url: " + parsed.error().message());
  }
  const std::vector<std::string> names = events->value_or(std::vector<std::string>());
  if (Result<uint8_t> bits = ParseWebhookEvents(names); !bits) {
    return http::SetError(response, 400, Code::kInvalidField, bits.error().message());
  }
  const std::string webhook_id = "wh_" + RandomKeyChars(22);
  const std::optional<std::string> secret =
      WebhookSecret(api.options.operator_token_hash, webhook_id);
  if (!secret) {
    return http::SetError(response, 503, Code::kServiceUnavailable,
                          "webhooks need KEYMETER_OPERATOR_TOKEN set (the secret their signing "
                          "secrets are derived from)");
  }
  const CommandOutcome outcome = RunCommand(api, admin->account_id, Actor{},
                                            [&](const EnvelopeHeader& h) {
                                              return BuildWebhookCreated(h, webhook_id, **url,
                                                                         names);
                                            });
  // Not applied yet (202): the id and the secret now, or never (an Idempotency-Key's retry
  // answers the 201 again).
  const auto pending = [&](JsonWriter& json) {
    json.Key("webhook_id").String(webhook_id).Key("secret").String(*secret);
  };
  if (AnswerUnlessOk(outcome, response, pending)) return;
  const std::optional<WebhookState> made =
      FindWebhook(api.pipeline, admin->account_id, webhook_id);
  if (!made) return http::SetError(response, 404, Code::kNoSuchWebhook, "no such webhook");
  JsonWriter json;
  json.BeginObject();
  WriteWebhook(json, *made);
  json.Key("secret").String(*secret).EndObject();
  http::SetJson(response, 201, json.Take());
}

void List(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  JsonWriter json;
  json.BeginObject().Key("webhooks").BeginArray();
  {
    std::shared_lock lock(api.pipeline.projector().state_mutex());
    if (const AccountState* a = api.pipeline.directory().FindAccount(admin->account_id)) {
      for (const WebhookState& w : a->webhooks()) {
        json.BeginObject();
        WriteWebhook(json, w);
        json.EndObject();
      }
    }
  }
  http::SetJson(response, 200, json.EndArray().EndObject().Take());
}

void Get(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<WebhookState> w = PathWebhook(api, *admin, request, response);
  if (!w) return;
  JsonWriter json;
  json.BeginObject();
  WriteWebhook(json, *w);
  http::SetJson(response, 200, json.EndObject().Take());
}

void Delete(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<WebhookState> w = PathWebhook(api, *admin, request, response);
  if (!w) return;
  const CommandOutcome outcome =
      RunCommand(api, admin->account_id, Actor{}, [&](const EnvelopeHeader& h) {
        return BuildWebhookDeleted(h, w->webhook_id);
      });
  if (AnswerUnlessOk(outcome, response)) return;
  JsonWriter json;
  json.BeginObject().Key("webhook_id").String(w->webhook_id).Key("deleted").Bool(true);
  http::SetJson(response, 200, json.EndObject().Take());
}

void Deliveries(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<WebhookState> w = PathWebhook(api, *admin, request, response);
  if (!w) return;
  const std::string_view state = Param(request, "state").value_or("");
  if (!state.empty() && state != "pending" && state != "delivered" && state != "failed") {
    return http::SetError(response, 400, Code::kInvalidField,
                          "state: pending, delivered or failed");
  }
  Result<size_t> limit = LimitParam(request);
  if (!limit) return SetStatusError(response, 400, limit.error());
  Store& store = api.pipeline.store();
  Result<WebhookDeliveryPage> page =
      ReadDeliveries(store.db(), store.cfs()[Cf::kWebhooks], admin->account_id, w->webhook_id,
                     state, limit.value(), Param(request, "cursor").value_or(""));
  if (!page) {
    const int status = page.error().code() == Code::kInvalidField ? 400 : 500;
    return SetStatusError(response, status, page.error());
  }
  JsonWriter json;
  json.BeginObject().Key("deliveries").BeginArray();
  for (const WebhookDelivery& d : page.value().deliveries) {
    Result<std::optional<Alert>> alert = ReadAlert(store.db(), store.cfs()[Cf::kAlerts],
                                                   admin->account_id, d.alert_time_us, d.alert_id);
    if (!alert) return SetStatusError(response, 500, alert.error());
    json.BeginObject().Key("alert_id").String(d.alert_id).Key("type");
    alert.value() ? json.String(AlertEventName(*alert.value())) : json.Null();
    json.Key("state").String(d.state()).Key("attempts").Uint(d.attempts);
    json.Key("last_attempt");
    d.last_attempt_us != 0 ? json.String(FormatRfc3339(d.last_attempt_us, true)) : json.Null();
    json.Key("last_status");
    d.last_status != 0 ? json.Uint(d.last_status) : json.Null();
    json.Key("last_error");
    d.last_error.empty() ? json.Null() : json.String(d.last_error);
    json.Key("next_attempt");
    d.next_attempt_us != 0 ? json.String(FormatRfc3339(d.next_attempt_us, true)) : json.Null();
    json.EndObject();
  }
  AnswerPage(json, page.value().next_cursor, response);
}

}  // namespace

void RegisterWebhookRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("POST", "/v1/webhooks",
             [api](const http::Request& rq, http::Response& rs) { Create(*api, rq, rs); });
  router.Add("GET", "/v1/webhooks",
             [api](const http::Request& rq, http::Response& rs) { List(*api, rq, rs); });
  router.Add("GET", "/v1/webhooks/{id}",
             [api](const http::Request& rq, http::Response& rs) { Get(*api, rq, rs); });
  router.Add("DELETE", "/v1/webhooks/{id}",
             [api](const http::Request& rq, http::Response& rs) { Delete(*api, rq, rs); });
  router.Add("GET", "/v1/webhooks/{id}/deliveries",
             [api](const http::Request& rq, http::Response& rs) { Deliveries(*api, rq, rs); });
}

}  // namespace keymeter
