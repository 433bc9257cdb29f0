#include "http/json.h"

namespace keymeter::http {

std::string ErrorBody(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(&out, code);
  out.append(",\"message\":");
  AppendJsonString(&out, message);
  out.append("}}");
  return out;
}

void SetError(Response& response, int status, Code code, std::string_view message) {
  SetJson(response, status, ErrorBody(HttpName(code), message));
}

void SetJson(Response& response, int status, std::string json) {
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(json);
}

}  // namespace keymeter::http
