#include "api/openapi.h"

#include <string>

namespace keymeter {

void RegisterOpenApiRoute(http::Router& router) {
  const std::vector<ConsoleAsset> assets = OpenApiAssets();
  // One file, or the build is broken (api/CMakeLists.txt embeds exactly docs/openapi.yaml).
  const ConsoleAsset spec = assets.at(0);
  router.Add(
      "GET", "/v1/openapi.yaml",
      [spec](const http::Request&, http::Response& response) {
        response.content_type = std::string(spec.content_type);
        response.SetHeader("Cache-Control", "no-cache");
        response.body = std::string(spec.body);
      },
      http::Router::Lane::kInline);
}

}  // namespace keymeter
