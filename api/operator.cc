#include "api/operator.h"

#include <shared_mutex>

#include "api/idempotency.h"
#include "api/internal.h"
#include "cluster/cluster.h"
#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "http/json.h"
#include "projections/key_directory.h"
#include "projections/time_buckets.h"

namespace keymeter {

namespace {

// A lost race for an account id (DUPLICATE-ACCOUNT) is retried with a new one this many times.
constexpr int kCreateAttempts = 4;

bool AccountIdTaken(Pipeline& pipeline, const std::string& id) {
  std::shared_lock lock(pipeline.projector().state_mutex());
  return pipeline.directory().FindAccount(id) != nullptr;
}

// POST /v1/accounts {"name","require_confirmation"}
// In a cluster, only ids on a partition this member owns: it applies the op and so hears its
// outcome (api/forwarding.h sends POST /v1/accounts only to a member that owns partitions).
bool OwnedHere(ApiContext& api, const std::string& account_id) {
  const Cluster* cluster = api.serve.cluster;
  return cluster == nullptr || !cluster->OwnsAny() || cluster->Owns(cluster->PartitionOf(account_id));
}

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
  const std::optional<std::string> keyed =
      KeyedAccountId(request, api.options.operator_token_hash);
  for (int attempt = 0; attempt < (keyed ? 1 : kCreateAttempts); ++attempt) {
    if (keyed) {
      account_id = *keyed;  // its retry's too; a collision is the projector's DUPLICATE-ACCOUNT
    } else {
      do {
        account_id = GenerateAccountId();
      } while (AccountIdTaken(api.pipeline, account_id) || !OwnedHere(api, account_id));
    }
    outcome = RunCommand(api, account_id, kOperatorActor,
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

// 200 {"account_id","name","status","require_confirmation","admin_token","created","updated"}
// of the {id} account, or 404 NO-SUCH-ACCOUNT. "admin_token" is "active" or "revoked".
void AnswerAccount(ApiContext& api, const std::string& account_id, http::Response& response) {
  http::JsonWriter json;
  {
    std::shared_lock lock(api.pipeline.projector().state_mutex());
    const AccountState* a = api.pipeline.directory().FindAccount(account_id);
    if (a == nullptr) {
      return http::SetError(response, 404, Code::kNoSuchAccount, "no such account");
    }
    json.BeginObject().Key("account_id").String(a->account_id).Key("name").String(a->name);
    json.Key("status").String(a->suspended ? "suspended" : "active");
    json.Key("require_confirmation").Bool(a->require_confirmation);
    json.Key("admin_token").String(a->admin_token_revoked ? "revoked" : "active");
    json.Key("created").String(FormatRfc3339(a->created_us));
    json.Key("updated").String(FormatRfc3339(a->updated_us));
    json.EndObject();
  }
  http::SetJson(response, 200, json.Take());
}

// The {id} account when it exists (the operator's ops are not published for nothing), or
// nullopt after writing 404.
std::optional<std::string> PathAccount(ApiContext& api, const http::Request& request,
                                       http::Response& response) {
  std::string id(request.PathParam("id"));
  if (!AccountIdTaken(api.pipeline, id)) {
    http::SetError(response, 404, Code::kNoSuchAccount, "no such account");
    return std::nullopt;
  }
  return id;
}

// POST /v1/accounts/{id}/admin-token -> 201 {"account_id","admin_token"}: a new token, the old
// one refused at once. DELETE /v1/accounts/{id}/admin-token -> 200 the account: no token works.
void SetAdminToken(ApiContext& api, bool replace, const http::Request& request,
                   http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  std::optional<std::string> account_id = PathAccount(api, request, response);
  if (!account_id || !BodyOr400(request, response, {})) return;
  const std::string token = replace ? GenerateAdminToken() : std::string();
  const Digest digest = Sha256(token);
  const CommandOutcome outcome =
      RunCommand(api, *account_id, kOperatorActor, [&](const EnvelopeHeader& h) {
        return BuildAdminTokenSet(h, replace ? &digest : nullptr);
      });
  const auto write = [&](http::JsonWriter& json) {
    json.Key("account_id").String(*account_id).Key("admin_token").String(token);
  };
  if (AnswerUnlessOk(outcome, response,
                     replace ? std::function<void(http::JsonWriter&)>(write) : nullptr)) {
    return;
  }
  if (!replace) return AnswerAccount(api, *account_id, response);
  http::JsonWriter json;
  json.BeginObject();
  write(json);
  json.EndObject();
  http::SetJson(response, 201, json.Take());
}

// POST /v1/accounts/{id}/suspend | /activate -> 200 the account.
void SetAccountStatus(ApiContext& api, bool suspend, const http::Request& request,
                      http::Response& response) {
  if (!Authenticate(api, request, response, Role::kOperator)) return;
  std::optional<std::string> account_id = PathAccount(api, request, response);
  if (!account_id || !BodyOr400(request, response, {})) return;
  const CommandOutcome outcome = RunCommand(
      api, *account_id, kOperatorActor,
      [&](const EnvelopeHeader& h) { return BuildAccountStatusSet(h, suspend); });
  if (AnswerUnlessOk(outcome, response)) return;
  AnswerAccount(api, *account_id, response);
}

}  // namespace

void RegisterOperatorRoutes(http::Router& router, ServeContext& context) {
  const ApiPtr api = ApiOf(context);
  router.Add("POST", "/v1/accounts", [api](const http::Request& request, http::Response& response) {
    CreateAccount(*api, request, response);
  });
  router.Add("GET", "/v1/accounts/{id}",
             [api](const http::Request& request, http::Response& response) {
               if (!Authenticate(*api, request, response, Role::kOperator)) return;
               AnswerAccount(*api, std::string(request.PathParam("id")), response);
             });
  for (const bool replace : {true, false}) {
    router.Add(replace ? "POST" : "DELETE", "/v1/accounts/{id}/admin-token",
               [api, replace](const http::Request& request, http::Response& response) {
                 SetAdminToken(*api, replace, request, response);
               });
  }
  for (const bool suspend : {true, false}) {
    router.Add("POST", suspend ? "/v1/accounts/{id}/suspend" : "/v1/accounts/{id}/activate",
               [api, suspend](const http::Request& request, http::Response& response) {
                 SetAccountStatus(*api, suspend, request, response);
               });
  }
  RegisterBillingRoutes(router, api);
  RegisterGatewayAdminRoutes(router, api);
  RegisterClusterRoutes(router, api);
  RegisterDeadLetterRoutes(router, api);
  RegisterAdjustmentRoutes(router, api);
}

}  // namespace keymeter
