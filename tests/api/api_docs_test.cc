// docs/api.md is the API's full reference: every route the server registers has a
// "### `METHOD /pattern`" section with a curl example, and every such section names a route that
// exists.
#define BOOST_TEST_MODULE api_docs
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "tests/api/routes_fixture.h"

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

std::set<std::string> Routes() { return testing::RegisteredRoutes(); }

}  // namespace

BOOST_AUTO_TEST_CASE(every_route_has_a_section_with_a_curl_example) {
  const std::map<std::string, std::string> sections = Sections();
  const std::set<std::string> routes = Routes();
  // ops 4, gateway 3, operator 16, admin 22, n1ed 1, member 5, console 3
  BOOST_TEST(routes.size() >= 54u);
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
