// The operator's gateway credentials (api/operator.h): POST/GET /v1/gateways,
// DELETE /v1/gateways/{id}. Gateway ops are log ops of account kGatewaysAccount, decided by the
// projector like every other (projections/key_ops_accounts.cc); the token is shown once.

#include <shared_mutex>

#include "api/internal.h"
#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "http/json.h"
#include "projections/key_directory.h"
#include "projections/time_buckets.h"

namespace keymeter {

namespace {

void WriteGateway(http::JsonWriter& json, const GatewayState& g) {
  json.BeginObject().Key("gateway_id").String(g.gateway_id).Key("name").String(g.name);
  json.Key("created").String(FormatRfc3339(g.created_us));
  json.Key("revoked");
  if (g.revoked()) {
    json.String(FormatRfc3339(g.revoked_us));
  } else {
    json.Null();
  }
  json.EndObject();
}

// POST /v1/gateways {"name"} -> 201 {"gateway_id","name","token"}
void CreateGateway(ApiContext& api, const http::Request& request, http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  std::optional<JsonBody> body = BodyOr400(request, response, {"name"});
  if (!body) return;
  auto name = ValueOr400(body->String("name", kMaxLabelBytes), response);
  if (!name) return;
  if (!*name || (*name)->empty()) {
    return http::SetError(response, 400, Code::kMissingField, "name: the gateway needs a name");
  }
  const std::string token = GenerateGatewayToken();
  const std::string gateway_id = GenerateGatewayId();
  const CommandOutcome outcome =
      RunCommand(api, kGatewaysAccount, kOperatorActor, [&](const EnvelopeHeader& h) {
        return BuildGatewayCreated(h, gateway_id, **name, Sha256(token));
      });
  const auto write = [&](http::JsonWriter& json) {
    json.Key("gateway_id").String(gateway_id).Key("name").String(**name);
    json.Key("token").String(token);
  };
  if (AnswerUnlessOk(outcome, response, write)) return;
  http::JsonWriter json;
  json.BeginObject();
  write(json);
  json.EndObject();
  http::SetJson(response, 201, json.Take());
}

// GET /v1/gateways -> {"gateways": [{"gateway_id","name","created","revoked"}]}
void ListGateways(ApiContext& api, const http::Request& request, http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  http::JsonWriter json;
  json.BeginObject().Key("gateways").BeginArray();
  {
    std::shared_lock lock(api.pipeline.projector().state_mutex());
    for (const GatewayState* g : api.pipeline.directory().Gateways()) WriteGateway(json, *g);
  }
  json.EndArray().EndObject();
  http::SetJson(response, 200, json.Take());
}

// DELETE /v1/gateways/{id} -> 200 the revoked gateway
void RevokeGateway(ApiContext& api, const http::Request& request, http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  const std::string gateway_id(request.PathParam("id"));
  const CommandOutcome outcome =
      RunCommand(api, kGatewaysAccount, kOperatorActor, [&](const EnvelopeHeader& h) {
        return BuildGatewayRevoked(h, gateway_id);
      });
  if (AnswerUnlessOk(outcome, response)) return;
  http::JsonWriter json;
  {
    std::shared_lock lock(api.pipeline.projector().state_mutex());
    const GatewayState* g = api.pipeline.directory().FindGateway(gateway_id);
    if (g == nullptr) return http::SetError(response, 404, Code::kNoSuchGateway, "no gateway");
    WriteGateway(json, *g);
  }
  http::SetJson(response, 200, json.Take());
}

}  // namespace

void RegisterGatewayAdminRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("POST", "/v1/gateways", [api](const http::Request& request, http::Response& response) {
    CreateGateway(*api, request, response);
  });
  router.Add("GET", "/v1/gateways", [api](const http::Request& request, http::Response& response) {
    ListGateways(*api, request, response);
  });
  router.Add("DELETE", "/v1/gateways/{id}",
             [api](const http::Request& request, http::Response& response) {
               RevokeGateway(*api, request, response);
             });
}

}  // namespace keymeter
