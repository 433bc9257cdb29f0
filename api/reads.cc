// Read endpoints of the account admin: GET /v1/keys, /v1/keys/{id}, /v1/usage, /v1/audit and
// /v1/requests (api/admin.h).

#include "api/internal.h"
#include "api/logs.h"
#include "api/usage.h"
#include "http/json.h"
#include "schemas/envelope.h"

namespace keymeter {

namespace {

void ListKeys(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  http::JsonWriter json;
  json.BeginArray();
  for (const KeyView& key : AccountKeys(api.pipeline, admin->account_id)) {
    WriteKey(json, key, KeyDetail::kAdmin);
  }
  json.EndArray();
  http::SetJson(response, 200, json.Take());
}

void GetKey(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key = PathKey(api, *admin, request, response);
  if (!key) return;
  http::JsonWriter json;
  WriteKey(json, *key, KeyDetail::kAdmin);
  http::SetJson(response, 200, json.Take());
}

// Without `key`: the account. With a root key: its pool (itself and its children). With a
// child: its own usage.
void Usage(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key;
  if (!QueryKey(api, *admin, request, response, &key)) return;
  UsageQuery query;
  if (Status s = ParseUsageParams(request, true, &query); !s.ok()) {
    return SetStatusError(response, 400, s);
  }
  query.account_id = admin->account_id;
  std::vector<KeyView> all = AccountKeys(api.pipeline, admin->account_id);
  if (!key) {
    query.scope = UsageScope::kAccount;
    query.members = std::move(all);
  } else if (key->is_child()) {
    query.scope = UsageScope::kKey;
    query.key_id = key->key_id;
    query.members = {*key};
  } else {
    query.scope = UsageScope::kRoot;
    query.key_id = key->key_id;
    query.members = PoolMembers(all, key->key_id);
  }
  AnswerUsage(api.pipeline, query, response);
}

// GET /v1/audit and /v1/requests: the admin's account, or one key of it with ?key=; `answer`
// writes the page (api/logs.h).
template <auto answer>
void AdminLog(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key;
  if (!QueryKey(api, *admin, request, response, &key)) return;
  std::optional<KeyId> id;
  if (key) id = KeyId::Parse(key->key_id);
  answer(api.pipeline, admin->account_id, id, request, response);
}

}  // namespace

void RegisterAdminReadRoutes(http::Router& router, const ApiPtr& api) {
  using Fn = void (*)(ApiContext&, const http::Request&, http::Response&);
  const std::pair<const char*, Fn> routes[] = {
      {"/v1/keys", ListKeys}, {"/v1/keys/{id}", GetKey},  {"/v1/usage", Usage},
      {"/v1/audit", AdminLog<AnswerAudit>}, {"/v1/requests", AdminLog<AnswerRequests>},
  };
  for (const auto& [pattern, fn] : routes) {
    router.Add("GET", pattern,
               [api, fn = fn](const http::Request& request, http::Response& response) {
                 fn(*api, request, response);
               });
  }
  RegisterRequestExportRoute(router, api);
}

}  // namespace keymeter
