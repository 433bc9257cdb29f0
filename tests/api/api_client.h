// Test-side helpers for talking to a real `keymeter` process's API: one HTTP request per
// connection with every wait bounded (no test can hang), and a JSON reader for the answers.
// Processes (keymeter, or curl) are spawned with tests/common/process_fixture.h. Helpers use
// Boost.Test's REQUIRE, so call them from the test thread only. Every exchange is recorded for
// the check against docs/openapi.yaml (tests/api/openapi_recorder.h).
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/api/openapi_recorder.h"
#include "tests/common/process_fixture.h"

namespace keymeter::testing {

// A parsed JSON answer. Paths are looked up with at_pointer ("/keys/0/key_id").
class Json {
 public:
  explicit Json(const std::string& text) : text_(text) {
    ok_ = parser_.parse(text_).get(root_) == simdjson::SUCCESS;
  }
  bool ok() const { return ok_; }
  simdjson::dom::element root() const { return root_; }
  bool Has(std::string_view pointer) const {
    simdjson::dom::element e;
    return ok_ && root_.at_pointer(pointer).get(e) == simdjson::SUCCESS;
  }
  bool IsNull(std::string_view pointer) const {
    simdjson::dom::element e;
    return ok_ && root_.at_pointer(pointer).get(e) == simdjson::SUCCESS && e.is_null();
  }
  std::string Str(std::string_view pointer) const {
    std::string_view s;
    if (!ok_ || root_.at_pointer(pointer).get_string().get(s) != simdjson::SUCCESS) return "<none>";
    return std::string(s);
  }
  int64_t Int(std::string_view pointer) const {
    int64_t v = -1;
    if (!ok_ || root_.at_pointer(pointer).get_int64().get(v) != simdjson::SUCCESS) return -1;
    return v;
  }
  bool Bool(std::string_view pointer) const {
    bool v = false;
    return ok_ && root_.at_pointer(pointer).get_bool().get(v) == simdjson::SUCCESS && v;
  }
  size_t Size(std::string_view pointer = "") const {
    simdjson::dom::array a;
    simdjson::dom::object o;
    if (!ok_) return 0;
    simdjson::dom::element e = root_;
    if (!pointer.empty() && root_.at_pointer(pointer).get(e) != simdjson::SUCCESS) return 0;
    if (e.get_array().get(a) == simdjson::SUCCESS) return a.size();
    if (e.get_object().get(o) == simdjson::SUCCESS) return o.size();
    return 0;
  }

 private:
  std::string text_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
  bool ok_ = false;
};

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string retry_after;
  std::vector<std::pair<std::string, std::string>> headers;  // all of them, as sent
  Json json() const { return Json(body); }
  // The first header named `name` (case-insensitive); "" when absent.
  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return v;
      }
    }
    return "";
  }
  std::string code() const { return Json(body).Str("/error/code"); }
};

// One request on a fresh connection; status 0 when nothing parsable answers within 10 s.
// `extra_headers`: more header lines, each "Name: value\r\n".
inline Reply HttpCall(uint16_t port, std::string_view method, std::string_view target,
                      std::string_view body = {}, std::string_view bearer = {},
                      std::string_view content_type = "application/json",
                      std::string_view extra_headers = {}) {
  std::string request = std::string(method) + " " + std::string(target) +
                        " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n";
  if (!bearer.empty()) request += "Authorization: Bearer " + std::string(bearer) + "\r\n";
  request += extra_headers;
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Type: " + std::string(content_type) + "\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;
  const std::optional<HttpResponse> response = Exchange(port, request, 10s);
  Reply reply;
  if (!response) return reply;
  RecordExchange(method, target, body, *response);
  reply.status = int(response->result_int());
  reply.body = response->body();
  reply.content_type = std::string((*response)[bhttp::field::content_type]);
  reply.retry_after = std::string((*response)[bhttp::field::retry_after]);
  for (const auto& field : *response) {
    reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return reply;
}

}  // namespace keymeter::testing
