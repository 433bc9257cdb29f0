// docs/openapi.yaml is the machine-readable description of the whole API: a valid OpenAPI 3.1
// document (tests/api/openapi_check.py, openapi-spec-validator from scripts/deps' venv) whose
// (method, path) pairs are exactly the routes the server registers, and what GET
// /v1/openapi.yaml serves, byte for byte. That every answer matches it is checked by each API
// test (tests/api/openapi_recorder.h).
#define BOOST_TEST_MODULE openapi_spec
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "api/openapi.h"
#include "tests/api/routes_fixture.h"
#include "tests/common/process_fixture.h"

using namespace keymeter;
using namespace keymeter::testing;

namespace {

const std::string kSpec = std::string(KEYMETER_SOURCE_DIR) + "/docs/openapi.yaml";

// "METHOD /path" of every operation under `paths:`. The file keeps one layout for this (its
// header says so): a path at two spaces ("  /v1/keys/{id}:"), its methods at four ("    get:").
std::set<std::string> SpecOperations() {
  std::ifstream in(kSpec);
  BOOST_REQUIRE_MESSAGE(in.good(), kSpec << " is missing");
  const std::regex path_line(R"(^  (/\S*):\s*$)");
  const std::regex method_line(R"(^    (get|put|post|delete|patch|head|options|trace):\s*$)");
  std::set<std::string> operations;
  std::string line, path;
  bool in_paths = false;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') in_paths = line == "paths:";
    if (!in_paths) continue;
    if (std::regex_match(line, m, path_line)) {
      path = m[1];
    } else if (std::regex_match(line, m, method_line)) {
      std::string method = m[1];
      for (char& c : method) c = char(std::toupper(static_cast<unsigned char>(c)));
      BOOST_TEST(!path.empty(), "a method before any path: " << line);
      BOOST_TEST(operations.insert(method + " " + path).second, "twice: " << method << " " << path);
    }
  }
  return operations;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_spec_describes_exactly_the_routes_the_server_registers) {
  const std::set<std::string> routes = RegisteredRoutes();
  const std::set<std::string> described = SpecOperations();
  BOOST_TEST(routes.size() >= 54u);
  for (const std::string& route : routes) {
    BOOST_TEST(described.contains(route), "docs/openapi.yaml does not describe " << route);
  }
  for (const std::string& operation : described) {
    BOOST_TEST(routes.contains(operation), "docs/openapi.yaml describes " << operation
                                               << ", which the server does not serve");
  }
}

BOOST_AUTO_TEST_CASE(the_spec_is_valid_openapi_3_1) {
  const std::string python = KEYMETER_VENV_PYTHON;
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(python),
                        python << " is missing: run scripts/deps (it installs openapi-core there)");
  TempDir tmp;
  auto run = Spawn(python,
                   {std::string(KEYMETER_SOURCE_DIR) + "/tests/api/openapi_check.py", kSpec},
                   tmp.sub("check.err"));
  const std::string report = run->ReadAll(60s);
  BOOST_TEST(run->Wait(30s) == 0, report << run->Stderr());
  BOOST_TEST_MESSAGE(report);
}

BOOST_AUTO_TEST_CASE(the_server_serves_the_spec_as_it_is) {
  const std::vector<ConsoleAsset> assets = OpenApiAssets();
  BOOST_REQUIRE_EQUAL(assets.size(), 1u);
  BOOST_TEST(assets[0].name == "openapi.yaml");
  BOOST_TEST(assets[0].content_type == "application/yaml");
  BOOST_TEST(assets[0].body == ReadFile(kSpec), "the embedded spec is not docs/openapi.yaml");

  http::Router router;
  RegisterOpenApiRoute(router);
  http::Request request;
  request.method = "GET";
  request.target = request.path = "/v1/openapi.yaml";
  http::Response response;
  router.Dispatch(request, response);
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.content_type == "application/yaml");
  BOOST_TEST(response.body == ReadFile(kSpec));
}
