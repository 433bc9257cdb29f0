// Key settings endpoints of the account admin: PUT /v1/keys/{id}/parent, allowed-sources,
// config, quota and cap (api/admin.h).

#include <limits>

#include "api/internal.h"

namespace keymeter {

namespace {

constexpr uint64_t kMaxCount = std::numeric_limits<int64_t>::max();

// Authenticates the admin, finds the {id} key and parses the body; then `publish` builds and
// runs the command from them. Answers the key's view once applied.
template <class Fn>
void SettingOp(ApiContext& api, const http::Request& request, http::Response& response,
               std::initializer_list<std::string_view> fields, Fn&& publish) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key = PathKey(api, *admin, request, response);
  if (!key) return;
  std::optional<JsonBody> body = BodyOr400(request, response, fields);
  if (!body) return;
  std::optional<CommandOutcome> outcome = publish(*admin, *key, *body);
  if (!outcome || AnswerUnlessOk(*outcome, response)) return;
  AnswerKey(api, key->key_id, KeyDetail::kAdmin, response);
}

}  // namespace

void RegisterKeySettingRoutes(http::Router& router, const ApiPtr& api) {
  // {"parent": "<id>" | ""}: seed 001's rules and codes.
  router.Add(
      "PUT", "/v1/keys/{id}/parent", [api](const http::Request& request, http::Response& response) {
        SettingOp(*api, request, response, {"parent"},
                  [&](const Credential& admin, const KeyView& key,
                      const JsonBody& body) -> std::optional<CommandOutcome> {
                    auto text = ValueOr400(body.String("parent", 64), response);
                    if (!text) return std::nullopt;
                    if (!*text) {
                      http::SetError(response, 400, Code::kMissingField,
                                     "parent: give a key id, or \"\" to remove the parent");
                      return std::nullopt;
                    }
                    Result<std::string> parent = NormalizeParent(**text);
                    if (!parent) {
                      SetStatusError(response, HttpStatusOf(parent.error().code()), parent.error());
                      return std::nullopt;
                    }
                    return RunCommand(
                        *api, admin.account_id, Actor{},
                        [&](const EnvelopeHeader& h) {
                          return BuildParentSet(h, key.key_id, parent.value());
                        },
                        {parent.value()});
                  });
      });
  router.Add("PUT", "/v1/keys/{id}/allowed-sources",
             [api](const http::Request& request, http::Response& response) {
               std::optional<Credential> admin =
                   Authenticate(*api, request, response, Role::kAccountAdmin);
               if (!admin) return;
               std::optional<KeyView> key = PathKey(*api, *admin, request, response);
               if (!key) return;
               AllowedSourcesCommand(*api, admin->account_id, Actor{}, *key, KeyDetail::kAdmin,
                                     request, response);
             });
  // {"products": [...], "settings": {...}}: refused on a child (CONFIG-INHERITED-FROM-PARENT).
  router.Add(
      "PUT", "/v1/keys/{id}/config", [api](const http::Request& request, http::Response& response) {
        SettingOp(
            *api, request, response, {"products", "settings"},
            [&](const Credential& admin, const KeyView& key,
                const JsonBody& body) -> std::optional<CommandOutcome> {
              auto products =
                  ValueOr400(body.Strings("products", kMaxListItems, kMaxItemBytes), response);
              if (!products) return std::nullopt;
              auto settings =
                  ValueOr400(body.StringMap("settings", kMaxListItems, kMaxItemBytes), response);
              if (!settings) return std::nullopt;
              return RunCommand(*api, admin.account_id, Actor{}, [&](const EnvelopeHeader& h) {
                return BuildConfigSet(
                    h, key.key_id, products->value_or(std::vector<std::string>()),
                    settings->value_or(std::vector<std::pair<std::string, std::string>>()));
              });
            });
      });
  // {"daily_requests","monthly_units"}: the pool of a root key; absent, null or 0 = unlimited.
  router.Add(
      "PUT", "/v1/keys/{id}/quota", [api](const http::Request& request, http::Response& response) {
        SettingOp(
            *api, request, response, {"daily_requests", "monthly_units"},
            [&](const Credential& admin, const KeyView& key,
                const JsonBody& body) -> std::optional<CommandOutcome> {
              auto daily = ValueOr400(body.Uint("daily_requests", kMaxCount), response);
              if (!daily) return std::nullopt;
              auto monthly = ValueOr400(body.Uint("monthly_units", kMaxCount), response);
              if (!monthly) return std::nullopt;
              return RunCommand(*api, admin.account_id, Actor{}, [&](const EnvelopeHeader& h) {
                return BuildQuotaSet(h, key.key_id, daily->value_or(0), monthly->value_or(0));
              });
            });
      });
  // {"daily_requests","monthly_units"}: a child's caps inside its parent's pool; absent, null
  // or 0 = no cap.
  router.Add(
      "PUT", "/v1/keys/{id}/cap", [api](const http::Request& request, http::Response& response) {
        SettingOp(*api, request, response, {"daily_requests", "monthly_units"},
                  [&](const Credential& admin, const KeyView& key,
                      const JsonBody& body) -> std::optional<CommandOutcome> {
                    auto daily = ValueOr400(body.Uint("daily_requests", kMaxCount), response);
                    if (!daily) return std::nullopt;
                    auto monthly = ValueOr400(body.Uint("monthly_units", kMaxCount), response);
                    if (!monthly) return std::nullopt;
                    return RunCommand(*api, admin.account_id, Actor{},
                                      [&](const EnvelopeHeader& h) {
                                        return BuildMemberCapSet(h, key.key_id, daily->value_or(0),
                                                                 monthly->value_or(0));
                                      });
                  });
      });
}

}  // namespace keymeter
