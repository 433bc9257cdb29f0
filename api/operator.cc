#include "api/operator.h"

#include <shared_mutex>

#include "api/internal.h"
#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "http/json.h"
#include "projections/key_directory.h"

namespace keymeter {

namespace {

// A lost race for an account id (DUPLICATE-ACCOUNT) is retried with a new one this many times.
constexpr int kCreateAttempts = 4;

bool AccountIdTaken(Pipeline& pipeline, const std::string& id) {
  std::shared_lock lock(pipeline.projector().state_mutex());
  return pipeline.directory().FindAccount(id) != nullptr;
}

// POST /v1/accounts {"name","require_confirmation"}
void CreateAccount(ApiContext& api, const http::Request& request, http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  std::optional<JsonBody> body = BodyOr400(request, response, {"name", "require_confirmation"});
  if (!body) return;
  auto name = ValueOr400(body->String("name", kMaxLabelBytes), response);
  if (!name) return;
  if (!*name || (*name)->empty()) {
    return http::SetError(response, 400, Code::kMissingField, "name: the account needs a name");
  }
  auto confirm = ValueOr400(body->Bool("require_confirmation"), response);
  if (!confirm) return;

  const std::string token = GenerateAdminToken();
  const Digest digest = Sha256(token);
  std::string account_id;
  CommandOutcome outcome;
  for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
    do {
      account_id = GenerateAccountId();
    } while (AccountIdTaken(api.pipeline, account_id));
    outcome = RunCommand(api, account_id, Actor{fb::ActorKind::Operator, ""},
                         [&](const EnvelopeHeader& h) {
                           return BuildAccountCreated(h, **name, digest, confirm->value_or(false));
                         });
    const bool lost_race = outcome.kind == CommandOutcome::Kind::kApplied &&
                           outcome.status.code() == Code::kDuplicateAccount;
    if (!lost_race) break;
  }
  const auto write_account = [&](http::JsonWriter& json) {
    json.Key("account_id").String(account_id).Key("admin_token").String(token);
  };
  if (AnswerUnlessOk(outcome, response, write_account)) return;
  http::JsonWriter json;
  json.BeginObject();
  write_account(json);
  json.EndObject();
  http::SetJson(response, 201, json.Take());
}

}  // namespace

void RegisterOperatorRoutes(http::Router& router, ServeContext& context) {
  const ApiPtr api = ApiOf(context);
  router.Add("POST", "/v1/accounts", [api](const http::Request& request, http::Response& response) {
    CreateAccount(*api, request, response);
  });
  RegisterBillingRoutes(router, api);
}

}  // namespace keymeter
