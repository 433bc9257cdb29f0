// Threshold alerts (docs/api.md "Alerts", projections/alerts.h):
//   PUT /v1/keys/{id}/alerts {"percents": [50, 80, 100]}   account admin: a root key's pool or
//       a child's member caps; [] turns them off. AlertThresholdsSet; 200 the key.
//   GET /v1/alerts?key=&limit=&cursor=   account admin: the account's alerts, newest first
//       (of one key with `key`); a member: its own key's only.

#include "api/internal.h"
#include "api/params.h"
#include "api/webhooks.h"
#include "engine/pipeline.h"
#include "engine/store.h"
#include "http/json.h"
#include "projections/alerts.h"
#include "schemas/civil_time.h"

namespace keymeter {

namespace {

void SetThresholds(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key = PathKey(api, *admin, request, response);
  if (!key) return;
  std::optional<JsonBody> body = BodyOr400(request, response, {"percents"});
  if (!body) return;
  auto percents = ValueOr400(body->Uints("percents", kMaxAlertThresholds, 100), response);
  if (!percents) return;
  if (!*percents) {
    return http::SetError(response, 400, Code::kMissingField,
                          "percents: an array of thresholds, 1..100 ([] turns them off)");
  }
  const std::vector<uint8_t> list((*percents)->begin(), (*percents)->end());
  // The projector checks them too (the log's authority); here a bad list is a 400.
  if (Status s = CheckThresholds(list); !s.ok()) {
    return http::SetError(response, 400, Code::kInvalidField, "percents: " + s.message());
  }
  const CommandOutcome outcome = RunCommand(api, key->account_id, Actor{}, [&](const EnvelopeHeader& h) {
    return BuildAlertThresholdsSet(h, key->key_id, list);
  });
  if (AnswerUnlessOk(outcome, response)) return;
  AnswerKey(api, key->key_id, KeyDetail::kAdmin, response);
}

void ListAlerts(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> who =
      Authenticate(api, request, response, {Role::kAccountAdmin, Role::kMember});
  if (!who) return;
  std::string key_id;
  if (who->role == Role::kMember) {
    key_id = who->key_id.str();  // a member sees its own key's alerts only
  } else {
    std::optional<KeyView> key;
    if (!QueryKey(api, *who, request, response, &key)) return;
    if (key) key_id = key->key_id;
  }
  Result<size_t> limit = LimitParam(request);
  if (!limit) return SetStatusError(response, 400, limit.error());
  Result<AlertPage> page = ReadAlerts(api.pipeline.store().db(),
                                      api.pipeline.store().cfs()[Cf::kAlerts], who->account_id,
                                      key_id, limit.value(), Param(request, "cursor").value_or(""));
  if (!page) {
    const int status = page.error().code() == Code::kInvalidField ? 400 : 500;
    return SetStatusError(response, status, page.error());
  }
  http::JsonWriter json;
  json.BeginObject().Key("alerts").BeginArray();
  for (const Alert& a : page.value().alerts) {
    json.BeginObject();
    WriteAlertFields(json, a);
    json.EndObject();
  }
  AnswerPage(json, page.value().next_cursor, response);
}

}  // namespace

void RegisterAlertRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("PUT", "/v1/keys/{id}/alerts",
             [api](const http::Request& rq, http::Response& rs) { SetThresholds(*api, rq, rs); });
  router.Add("GET", "/v1/alerts",
             [api](const http::Request& rq, http::Response& rs) { ListAlerts(*api, rq, rs); });
}

}  // namespace keymeter
