// GET /v1/openapi.yaml (docs/api.md, Ops): docs/openapi.yaml, the machine-readable description of
// every route, served as it is — 200, Content-Type application/yaml, Cache-Control no-cache, no
// credential. The file is embedded in the binary at build time by cmake/km_embed.cmake, as the
// console's files are (api/CMakeLists.txt), so a binary always describes its own API.
//
// Thread safety: call RegisterOpenApiRoute() once, before the server starts; the handler is
// read-only.

#pragma once

#include <vector>

#include "api/console_assets.h"
#include "http/router.h"

namespace keymeter {

// The embedded docs/openapi.yaml: one asset, "openapi.yaml" (generated openapi_asset.cc).
std::vector<ConsoleAsset> OpenApiAssets();

void RegisterOpenApiRoute(http::Router& router);

}  // namespace keymeter
