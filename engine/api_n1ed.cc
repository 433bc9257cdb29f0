// n1ed compatibility: POST /a/admin/api-key-set-parent (seed 001), form-encoded adminToken,
// apiKey and parentApiKey. Always HTTP 200 with {"error": null, "data": "OK"} or
// {"error": "<CODE>", "data": null}.
//
// Checks, in order (the first that fails answers):
//   form malformed or adminToken unknown          INCORRECT-TOKEN
//   too many failed tokens from this address      TOO-MANY-ATTEMPTS (keymeter extension)
//   apiKey missing or not 8/24 key characters     NO-SUCH-API-KEY
//   parentApiKey missing                          INVALID-PARENT-API-KEY ("" removes)
//   parentApiKey 9..23 or over 24 characters      UNABLE-TO-SET-PARENT-API-KEY (no such key)
// then ParentSet is published (parentApiKey of 1..7 characters as given, so the projector
// answers INVALID-PARENT-API-KEY; a full key as its 8-character id) and the projector's outcome
// is the answer. Its codes outside seed 001's five are mapped onto them: KEY-DELETED →
// NO-SUCH-API-KEY, anything else → UNABLE-TO-SET-PARENT-API-KEY. An outcome still pending after
// the command timeout answers COMMAND-PENDING, a log that refuses the append
// SERVICE-UNAVAILABLE (keymeter extensions).

#include "engine/api_internal.h"
#include "engine/form.h"
#include "engine/json.h"

namespace keymeter {

namespace {

void Answer(http::Response& response, std::string_view code) {
  std::string body;
  if (code.empty()) {
    body = R"({"error": null, "data": "OK"})";
  } else {
    body = "{\"error\": ";
    http::AppendJsonString(&body, code);
    body += ", \"data\": null}";
  }
  http::SetJson(response, 200, std::move(body));
}

std::string_view SeedCode(std::string_view code) {
  if (code == "UNABLE-TO-CHANGE-NOT-OWN-API-KEY" || code == "NO-SUCH-API-KEY" ||
      code == "INVALID-PARENT-API-KEY" || code == "UNABLE-TO-SET-PARENT-API-KEY" ||
      code == "INCORRECT-TOKEN") {
    return code;
  }
  if (code == "KEY-DELETED") return "NO-SUCH-API-KEY";
  return "UNABLE-TO-SET-PARENT-API-KEY";
}

void SetParent(ApiContext& api, const http::Request& request, http::Response& response) {
  Result<FormFields> form = ParseForm(request.body);
  if (!form) return Answer(response, "INCORRECT-TOKEN");
  const FormFields& fields = form.value();
  const Resolution admin = api.auth.ResolveAdminToken(FormValue(fields, "adminToken").value_or(""),
                                                      request.remote_address);
  if (admin.failure == Resolution::Failure::kRateLimited) {
    response.SetHeader("Retry-After", std::to_string(admin.retry_after_s));
    return Answer(response, "TOO-MANY-ATTEMPTS");
  }
  if (admin.failure != Resolution::Failure::kNone) return Answer(response, "INCORRECT-TOKEN");
  const std::optional<KeyId> key = KeyId::Parse(FormValue(fields, "apiKey").value_or(""));
  if (!key) return Answer(response, "NO-SUCH-API-KEY");
  const std::optional<std::string_view> parent_text = FormValue(fields, "parentApiKey");
  if (!parent_text) return Answer(response, "INVALID-PARENT-API-KEY");
  Result<std::string> parent = NormalizeParent(*parent_text);
  if (!parent) return Answer(response, SeedCode(parent.error().code()));
  const std::string key_id = key->str();
  const CommandOutcome outcome = RunCommand(
      api, admin.credential.account_id, Actor{},
      [&](const EnvelopeHeader& h) { return BuildParentSet(h, key_id, parent.value()); });
  switch (outcome.kind) {
    case CommandOutcome::Kind::kPending:
      return Answer(response, "COMMAND-PENDING");
    case CommandOutcome::Kind::kUnpublished:
      return Answer(response, "SERVICE-UNAVAILABLE");
    case CommandOutcome::Kind::kApplied:
      break;
  }
  Answer(response, outcome.status.ok() ? std::string_view() : SeedCode(outcome.status.code()));
}

}  // namespace

void RegisterN1edRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("POST", "/a/admin/api-key-set-parent",
             [api](const http::Request& request, http::Response& response) {
               SetParent(*api, request, response);
             });
}

}  // namespace keymeter
