// JSON responses: the error body every endpoint uses, {"error":{"code":"<CODE>","message":"..."}}
// (DESIGN §3). The writer itself (JsonWriter, AppendJsonString) is schemas/json_writer.h.
//
// Thread safety: free functions are thread-safe.

#pragma once

#include <string>
#include <string_view>

#include "http/server.h"
#include "schemas/json_writer.h"

namespace keymeter::http {

using keymeter::AppendJsonString;  // schemas/json_writer.h
using keymeter::JsonWriter;

// {"error":{"code":"<code>","message":"<message>"}}
std::string ErrorBody(std::string_view code, std::string_view message);

// Sets `response` to `status` with an error body and the JSON content type.
void SetError(Response& response, int status, Code code, std::string_view message);

// Sets `response` to `status` with `json` (already serialized) as the body.
void SetJson(Response& response, int status, std::string json);

}  // namespace keymeter::http
