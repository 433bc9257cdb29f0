#include "api/admin.h"

#include <shared_mutex>

#include "api/idempotency.h"
#include "api/internal.h"
#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "http/json.h"
#include "projections/allowed_sources.h"
#include "projections/key_directory.h"

namespace keymeter {

void RegisterAdminRoutes(http::Router& router, ServeContext& context) {
  const ApiPtr api = ApiOf(context);
  RegisterKeyWriteRoutes(router, api);
  RegisterKeySettingRoutes(router, api);
  RegisterKeyLimitRoutes(router, api);
  RegisterAlertRoutes(router, api);
  RegisterWebhookRoutes(router, api);
  RegisterAdminReadRoutes(router, api);
  RegisterN1edRoutes(router, api);
}

std::optional<KeyView> PathKey(ApiContext& api, const Credential& admin,
                               const http::Request& request, http::Response& response) {
  std::optional<KeyView> key =
      FindAccountKey(api.pipeline, admin.account_id, request.PathParam("id"));
  if (!key) http::SetError(response, 404, Code::kNotFound, "no such key in this account");
  return key;
}

bool QueryKey(ApiContext& api, const Credential& admin, const http::Request& request,
              http::Response& response, std::optional<KeyView>* key) {
  std::optional<std::string_view> text = request.QueryParam("key");
  key->reset();
  if (!text || text->empty()) return true;
  *key = FindAccountKey(api.pipeline, admin.account_id, *text);
  if (!*key) {
    http::SetError(response, 404, Code::kNotFound, "no such key in this account");
    return false;
  }
  return true;
}

std::optional<JsonBody> BodyOr400(const http::Request& request, http::Response& response,
                                  std::initializer_list<std::string_view> fields) {
  Result<JsonBody> body = JsonBody::Parse(request.body);
  if (!body) {
    SetStatusError(response, 400, body.error());
    return std::nullopt;
  }
  if (Status s = body.value().AllowOnly(fields); !s.ok()) {
    SetStatusError(response, 400, s);
    return std::nullopt;
  }
  return std::move(body.value());
}

void AnswerKey(ApiContext& api, const std::string& key_id, KeyDetail detail,
               http::Response& response) {
  std::optional<KeyView> key = FindKeyView(api.pipeline, *KeyId::Parse(key_id));
  if (!key) return http::SetError(response, 404, Code::kNotFound, "no such key in this account");
  http::JsonWriter json;
  WriteKey(json, *key, detail);
  http::SetJson(response, 200, json.Take());
}

Result<std::string> NormalizeParent(std::string_view text) {
  if (text.size() < kKeyIdLength) return std::string(text);
  std::optional<KeyId> id = KeyId::Parse(text);
  if (!id) return Status(Code::kUnableToSetParentApiKey, "the parent key does not exist");
  return id->str();
}

void RotateCommand(ApiContext& api, const std::string& account_id, const Actor& actor,
                   const KeyView& key, const http::Request& request, http::Response& response) {
  std::optional<JsonBody> body = BodyOr400(request, response, {"grace_seconds"});
  if (!body) return;
  std::optional<std::optional<uint64_t>> grace =
      ValueOr400(body->Uint("grace_seconds", kMaxGraceSeconds), response);
  if (!grace) return;
  const TimeUs grace_us = TimeUs(grace->value_or(0)) * kMicrosPerSecond;
  const std::optional<KeyId> id = KeyId::Parse(key.key_id);
  const std::string plain = RotateKey(*id);
  const Digest digest = Sha256(plain);
  TimeUs grace_until = 0;
  const CommandOutcome outcome = RunCommand(api, account_id, actor, [&](const EnvelopeHeader& h) {
    grace_until = grace_us > 0 ? h.time_us + grace_us : 0;
    return BuildKeyRotated(h, key.key_id, digest, grace_until);
  });
  if (outcome.ok() && CurrentRequestDigest() != nullptr) {
    // A retry's clock is not the first attempt's: the grace the rotation set is the key's.
    std::shared_lock lock(api.pipeline.projector().state_mutex());
    const KeyState* k = api.pipeline.directory().FindKey(*id);
    if (k != nullptr && k->secret_hash == digest) grace_until = k->extras().grace_until_us;
  }
  const auto write_key = [&](http::JsonWriter& json) {
    json.Key("key").String(plain).Key("key_id").String(key.key_id);
    json.Key("grace_until");
    if (grace_until > 0) {
      json.String(FormatRfc3339(grace_until));
    } else {
      json.Null();
    }
  };
  if (AnswerUnlessOk(outcome, response, write_key)) return;
  http::JsonWriter json;
  json.BeginObject();
  write_key(json);
  json.EndObject();
  http::SetJson(response, 200, json.Take());
}

void AllowedSourcesCommand(ApiContext& api, const std::string& account_id, const Actor& actor,
                           const KeyView& key, KeyDetail detail, const http::Request& request,
                           http::Response& response) {
  std::optional<JsonBody> body = BodyOr400(request, response, {"ips", "domains"});
  if (!body) return;
  auto ips = ValueOr400(body->Strings("ips", kMaxListItems, kMaxItemBytes), response);
  if (!ips) return;
  auto domains = ValueOr400(body->Strings("domains", kMaxListItems, kMaxItemBytes), response);
  if (!domains) return;
  const std::vector<std::string> ip_list = ips->value_or(std::vector<std::string>());
  // Domains are matched case-insensitively, a trailing dot being the same name: published
  // lowercase and without it (the projector refuses anything else as INVALID-DOMAIN).
  std::vector<std::string> domain_list = domains->value_or(std::vector<std::string>());
  for (std::string& d : domain_list) d = NormalizeDomain(d);
  const CommandOutcome outcome = RunCommand(api, account_id, actor, [&](const EnvelopeHeader& h) {
    return BuildAllowedSourcesSet(h, key.key_id, ip_list, domain_list);
  });
  if (AnswerUnlessOk(outcome, response)) return;
  AnswerKey(api, key.key_id, detail, response);
}

}  // namespace keymeter
