// docs/api.md is the API's full reference: every route the server registers has a
// "### `METHOD /pattern`" section with a curl example, and every such section names a route that
// exists.
#define BOOST_TEST_MODULE api_docs
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "api/admin.h"
#include "api/console.h"
#include "api/member.h"
#include "api/operator.h"
#include "api/ops.h"
#include "engine/metrics.h"
#include "engine/pipeline.h"
#include "tests/common/temp_dir.h"

#if __has_include("api/gateway.h") && __has_include("engine/authorizer.h") && \
                                                    __has_include("engine/reservations.h")
#include "api/gateway.h"
#include "engine/authorizer.h"
#include "engine/reservations.h"
#define KM_HAS_GATEWAY 1
#endif

using namespace keymeter;

namespace {

// The sections of docs/api.md: heading line ("### `GET /v1/keys`") → text up to the next
// heading of any level.
std::map<std::string, std::string> Sections() {
  std::ifstream in(std::string(KEYMETER_SOURCE_DIR) + "/docs/api.md");
  BOOST_REQUIRE_MESSAGE(in.good(), "docs/api.md is missing");
  std::map<std::string, std::string> sections;
  std::string line, heading;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) {
      heading = line.rfind("### `", 0) == 0 ? line : "";
      if (!heading.empty()) {
        BOOST_TEST(!sections.contains(heading), "documented twice: " << heading);
        sections[heading];
      }
      continue;
    }
    if (!heading.empty()) sections[heading] += line + "\n";
  }
  return sections;
}

// Every route of a fully wired server: {"GET /v1/keys", ...}.
std::set<std::string> Routes() {
  testing::TempDir dir;
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
#ifdef KM_HAS_GATEWAY
  Reservations reservations;
  Authorizer authorizer(pipeline.projector().state_mutex(), pipeline.directory(), pipeline.quota(),
                        reservations);
  context.authorizer = &authorizer;
  RegisterGatewayRoutes(router, context);
#endif
  std::set<std::string> routes;
  for (const http::Router::Route& r : router.Routes()) routes.insert(r.method + " " + r.pattern);
  return routes;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_route_has_a_section_with_a_curl_example) {
  const std::map<std::string, std::string> sections = Sections();
  const std::set<std::string> routes = Routes();
  BOOST_TEST(routes.size() >= 27u);  // ops 3, operator 2, admin 17, member 5, console 3 (+ gateway 3)
  for (const std::string& route : routes) {
    const auto it = sections.find("### `" + route + "`");
    BOOST_TEST_CONTEXT(route) {
      BOOST_REQUIRE_MESSAGE(it != sections.end(), "docs/api.md has no section for " << route);
      const size_t example = it->second.find("```sh\n");
      BOOST_TEST(example != std::string::npos);
      BOOST_TEST(it->second.find("curl ", example) != std::string::npos);
      BOOST_TEST(it->second.find("$KM") != std::string::npos);  // the server it runs against
    }
  }
}

BOOST_AUTO_TEST_CASE(every_documented_route_exists) {
  const std::set<std::string> routes = Routes();
  for (const auto& [heading, text] : Sections()) {
    const std::string route = heading.substr(5, heading.size() - 6);
    BOOST_TEST(routes.contains(route), "documented but not served: " << route);
  }
}
