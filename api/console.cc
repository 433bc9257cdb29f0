#include "api/console.h"

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "api/console_assets.h"
#include "http/json.h"

namespace keymeter {

namespace {

using Assets = absl::flat_hash_map<std::string, ConsoleAsset>;

void SetSecurityHeaders(http::Response& response) {
  response.SetHeader("Content-Security-Policy", std::string(kConsoleContentSecurityPolicy));
  response.SetHeader("X-Content-Type-Options", "nosniff");
  response.SetHeader("Referrer-Policy", "no-referrer");
  response.SetHeader("X-Frame-Options", "DENY");
}

// Whether an If-None-Match header names `etag` ("*" or a list of tags, weak ones compared
// weakly as RFC 9110 says for GET).
bool Matches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  size_t pos = 0;
  while (pos < if_none_match.size()) {
    size_t comma = if_none_match.find(',', pos);
    if (comma == std::string_view::npos) comma = if_none_match.size();
    std::string_view tag = if_none_match.substr(pos, comma - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
    pos = comma + 1;
  }
  return false;
}

void Serve(const Assets& assets, std::string_view name, const http::Request& request,
           http::Response& response) {
  SetSecurityHeaders(response);
  const auto it = assets.find(absl::string_view(name.data(), name.size()));
  if (it == assets.end()) {
    return http::SetError(response, 404, Code::kNotFound, "no such console file");
  }
  const ConsoleAsset& asset = it->second;
  response.SetHeader("Cache-Control", "no-cache");
  response.SetHeader("ETag", std::string(asset.etag));
  response.content_type = std::string(asset.content_type);
  if (const auto tags = request.Header("If-None-Match"); tags && Matches(*tags, asset.etag)) {
    response.status = 304;
    return;
  }
  response.body = std::string(asset.body);
}

}  // namespace

void RegisterConsoleRoutes(http::Router& router) {
  auto assets = std::make_shared<Assets>();
  for (const ConsoleAsset& asset : ConsoleAssets()) assets->emplace(asset.name, asset);

  router.Add("GET", "/console", [](const http::Request&, http::Response& response) {
    SetSecurityHeaders(response);
    response.SetHeader("Location", "/console/");
    http::SetError(response, 308, Code::kMoved, "the console is at /console/");
  }, http::Router::Lane::kInline);
  router.Add("GET", "/console/", [assets](const http::Request& request, http::Response& response) {
    Serve(*assets, "index.html", request, response);
  }, http::Router::Lane::kInline);
  router.Add("GET", "/console/{file}",
             [assets](const http::Request& request, http::Response& response) {
               Serve(*assets, request.PathParam("file"), request, response);
             },
             http::Router::Lane::kInline);
}

}  // namespace keymeter
