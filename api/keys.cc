// Key lifecycle endpoints of the account admin: issue, rotate, suspend, activate, confirm,
// delete (api/admin.h).

#include <shared_mutex>

#include "api/internal.h"
#include "engine/pipeline.h"
#include "engine/secrets.h"
#include "http/json.h"
#include "projections/key_directory.h"
#include "schemas/envelope.h"

namespace keymeter {

namespace {

// A lost race for a key id (DUPLICATE-KEY-ID) is retried with a new one this many times.
constexpr int kIssueAttempts = 4;

std::optional<fb::KeyStatus> ParseIssueStatus(std::string_view text) {
  if (text == "pending") return fb::KeyStatus::Pending;
  if (text == "active") return fb::KeyStatus::Active;
  if (text == "suspended") return fb::KeyStatus::Suspended;
  return std::nullopt;
}

bool KeyIdTaken(Pipeline& pipeline, KeyId id) {
  std::shared_lock lock(pipeline.projector().state_mutex());
  return pipeline.directory().FindKey(id) != nullptr;
}

// POST /v1/keys {"label","parent","status"}
void IssueKey(ApiContext& api, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<JsonBody> body =
      BodyOr400(request, response, {"label", "parent", "status", "expires_at"});
  if (!body) return;
  TimeUs expires_at = 0;
  if (!ReadExpiresAt(*body, response, &expires_at)) return;
  auto label = ValueOr400(body->String("label", kMaxLabelBytes), response);
  if (!label) return;
  if (label->has_value() && (*label)->find_first_not_of(" \t") == std::string::npos) {
    // Absent is an unlabeled key; given, a label names the member (seed 000: an e-mail).
    return http::SetError(response, 400, Code::kInvalidField,
                          "label: must not be empty (omit it for an unlabeled key)");
  }
  auto parent_text = ValueOr400(body->String("parent", kKeyLength), response);
  if (!parent_text) return;
  auto status_text = ValueOr400(body->String("status", 16), response);
  if (!status_text) return;
  const std::optional<fb::KeyStatus> status = ParseIssueStatus(status_text->value_or("pending"));
  if (!status) {
    return http::SetError(response, 400, Code::kInvalidField,
                          "status: must be pending, active or suspended");
  }
  Result<std::string> parent = NormalizeParent(parent_text->value_or(""));
  if (!parent) return SetStatusError(response, HttpStatusOf(parent.error().code()), parent.error());

  std::string plain;
  CommandOutcome outcome;
  for (int attempt = 0; attempt < kIssueAttempts; ++attempt) {
    Result<std::string> generated =
        GenerateKey([&](KeyId id) { return KeyIdTaken(api.pipeline, id); });
    if (!generated) return SetStatusError(response, 503, generated.error());
    plain = std::move(generated.value());
    const std::string key_id = plain.substr(0, kKeyIdLength);
    const Digest digest = Sha256(plain);
    outcome = RunCommand(api, admin->account_id, Actor{}, [&](const EnvelopeHeader& h) {
      return BuildKeyIssued(h, key_id, digest, label->value_or(""), parent.value(), *status,
                            expires_at);
    });
    const bool lost_race = outcome.kind == CommandOutcome::Kind::kApplied &&
                           outcome.status.code() == Code::kDuplicateKeyId;
    if (!lost_race) break;
  }
  const std::string key_id = plain.substr(0, kKeyIdLength);
  const auto write_key = [&](http::JsonWriter& json) {
    json.Key("key").String(plain).Key("key_id").String(key_id);
  };
  if (AnswerUnlessOk(outcome, response, write_key)) return;
  http::JsonWriter json;
  json.BeginObject();
  write_key(json);
  json.Key("status").String(StatusName(*status));
  json.EndObject();
  http::SetJson(response, 201, json.Take());
}

// POST /v1/keys/{id}/suspend|activate|confirm and DELETE /v1/keys/{id}: no body.
void StatusOp(ApiContext& api, fb::Op op, const http::Request& request, http::Response& response) {
  std::optional<Credential> admin = Authenticate(api, request, response, Role::kAccountAdmin);
  if (!admin) return;
  std::optional<KeyView> key = PathKey(api, *admin, request, response);
  if (!key) return;
  if (!BodyOr400(request, response, {})) return;
  const CommandOutcome outcome =
      RunCommand(api, admin->account_id, Actor{},
                 [&](const EnvelopeHeader& h) { return BuildStatusOp(h, op, key->key_id); });
  if (AnswerUnlessOk(outcome, response)) return;
  AnswerKey(api, key->key_id, KeyDetail::kAdmin, response);
}

}  // namespace

void RegisterKeyWriteRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("POST", "/v1/keys", [api](const http::Request& request, http::Response& response) {
    IssueKey(*api, request, response);
  });
  router.Add("POST", "/v1/keys/{id}/rotate",
             [api](const http::Request& request, http::Response& response) {
               std::optional<Credential> admin =
                   Authenticate(*api, request, response, Role::kAccountAdmin);
               if (!admin) return;
               std::optional<KeyView> key = PathKey(*api, *admin, request, response);
               if (!key) return;
               RotateCommand(*api, admin->account_id, Actor{}, *key, request, response);
             });
  const std::pair<const char*, fb::Op> status_ops[] = {
      {"/v1/keys/{id}/suspend", fb::Op::KeySuspended},
      {"/v1/keys/{id}/activate", fb::Op::KeyActivated},
      {"/v1/keys/{id}/confirm", fb::Op::KeyConfirmed},
  };
  for (const auto& [pattern, op] : status_ops) {
    router.Add("POST", pattern,
               [api, op = op](const http::Request& request, http::Response& response) {
                 StatusOp(*api, op, request, response);
               });
  }
  router.Add("DELETE", "/v1/keys/{id}",
             [api](const http::Request& request, http::Response& response) {
               StatusOp(*api, fb::Op::KeyDeleted, request, response);
             });
}

}  // namespace keymeter
