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
// SERVICE-UNAVAILABLE (keymeter extensions). In a cluster the member a client talks to answers
// the same way for what it decides itself: TOO-MANY-ATTEMPTS, OWNER-UNAVAILABLE (with
// Retry-After: 1) when no owner of the account answers (api/forwarding.cc).

#include "api/client_address.h"
#include "api/internal.h"
#include "http/form.h"
#include "http/json.h"

namespace keymeter {

void AnswerN1ed(http::Response& response, Code code) {
  std::string body;
  if (code == Code::kOk) {
    body = R"({"error": null, "data": "OK"})";
  } else {
    body = "{\"error\": ";
    http::AppendJsonString(&body, LogName(code));
    body += ", \"data\": null}";
  }
  http::SetJson(response, 200, std::move(body));
}

namespace {

Code SeedCode(Code code) {
  if (code == Code::kUnableToChangeNotOwnApiKey || code == Code::kNoSuchApiKey ||
      code == Code::kInvalidParentApiKey || code == Code::kUnableToSetParentApiKey ||
      code == Code::kIncorrectToken) {
    return code;
  }
  if (code == Code::kKeyDeleted) return Code::kNoSuchApiKey;
  return Code::kUnableToSetParentApiKey;
}

void SetParent(ApiContext& api, const http::Request& request, http::Response& response) {
  Result<FormFields> form = ParseForm(request.body);
  if (!form) return AnswerN1ed(response, Code::kIncorrectToken);
  const FormFields& fields = form.value();
  const Resolution admin =
      api.auth.ResolveAdminToken(FormValue(fields, "adminToken").value_or(""),
                                 ClientAddress(request, api.options.trusted_proxies));
  if (admin.failure == Resolution::Failure::kRateLimited) {
    response.SetHeader("Retry-After", std::to_string(admin.retry_after_s));
    return AnswerN1ed(response, Code::kTooManyAttempts);
  }
  if (admin.failure != Resolution::Failure::kNone) {
    return AnswerN1ed(response, Code::kIncorrectToken);
  }
  const std::optional<KeyId> key = KeyId::Parse(FormValue(fields, "apiKey").value_or(""));
  if (!key) return AnswerN1ed(response, Code::kNoSuchApiKey);
  const std::optional<std::string_view> parent_text = FormValue(fields, "parentApiKey");
  if (!parent_text) return AnswerN1ed(response, Code::kInvalidParentApiKey);
  Result<std::string> parent = NormalizeParent(*parent_text);
  if (!parent) return AnswerN1ed(response, SeedCode(parent.error().code()));
  const std::string key_id = key->str();
  const CommandOutcome outcome = RunCommand(
      api, admin.credential.account_id, Actor{},
      [&](const EnvelopeHeader& h) { return BuildParentSet(h, key_id, parent.value()); },
      {key_id, parent.value()});
  switch (outcome.kind) {
    case CommandOutcome::Kind::kPending:
      return AnswerN1ed(response, Code::kCommandPending);
    case CommandOutcome::Kind::kUnpublished:
      return AnswerN1ed(response, Code::kServiceUnavailable);
    case CommandOutcome::Kind::kThrottled:
      response.SetHeader("Retry-After", std::to_string(outcome.retry_after_s));
      return AnswerN1ed(response, Code::kTooManyAttempts);
    case CommandOutcome::Kind::kApplied:
      break;
  }
  AnswerN1ed(response, outcome.status.ok() ? Code::kOk : SeedCode(outcome.status.code()));
}

}  // namespace

void RegisterN1edRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("POST", std::string(kN1edPath),
             [api](const http::Request& request, http::Response& response) {
               SetParent(*api, request, response);
             });
}

}  // namespace keymeter
