// Every route a fully wired `keymeter serve` registers, as "METHOD /pattern" ("GET /v1/keys"):
// the ops, admin, member, operator, console and gateway routes on one router, as
// api/routes.cc registers them. api_docs_test holds docs/api.md to it, openapi_spec_test
// docs/openapi.yaml.
#pragma once

#include <boost/test/unit_test.hpp>
#include <memory>
#include <set>
#include <string>

#include "api/admin.h"
#include "api/console.h"
#include "api/gateway.h"
#include "api/member.h"
#include "api/operator.h"
#include "api/ops.h"
#include "engine/authorizer.h"
#include "engine/metrics.h"
#include "engine/pipeline.h"
#include "engine/reservations.h"
#include "tests/common/temp_dir.h"

namespace keymeter::testing {

inline std::set<std::string> RegisteredRoutes() {
  TempDir dir;
  PipelineOptions options;
  options.data_dir = dir.sub("db");
  Result<std::unique_ptr<Pipeline>> opened = Pipeline::Open(options);
  if (!opened) BOOST_FAIL("pipeline: " << opened.error().ToString());
  Pipeline& pipeline = *opened.value();
  Metrics metrics;
  http::Router router;
  ServeContext context{ApiOptions(), pipeline.store(), pipeline.directory(),
                       router,       metrics,          pipeline};
  RegisterOpsRoutes(router, context);
  RegisterAdminRoutes(router, context);
  RegisterMemberRoutes(router, context);
  RegisterOperatorRoutes(router, context);
  RegisterConsoleRoutes(router);
  Reservations reservations;
  Authorizer authorizer(pipeline.projector().state_mutex(), pipeline.directory(), pipeline.quota(),
                        reservations);
  context.authorizer = &authorizer;
  RegisterGatewayRoutes(router, context);
  std::set<std::string> routes;
  for (const http::Router::Route& r : router.Routes()) routes.insert(r.method + " " + r.pattern);
  return routes;
}

}  // namespace keymeter::testing
