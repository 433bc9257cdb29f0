// The console's routes (api/console.h) through http::Router, without a server: the
// embedded files with their content types and security headers, ETag revalidation, the
// redirect, 404 for anything not embedded; and the router's trailing-slash patterns they need.
#define BOOST_TEST_MODULE console_routes
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "api/console.h"
#include "api/console_assets.h"
#include "http/router.h"

using namespace keymeter;

namespace {

struct Fixture {
  Fixture() { RegisterConsoleRoutes(router); }

  http::Response Get(std::string_view path,
                     std::vector<std::pair<std::string_view, std::string_view>> headers = {}) {
    http::Request request;
    request.method = "GET";
    request.path = path;
    request.headers = std::move(headers);
    http::Response response;
    router.Dispatch(request, response);
    return response;
  }

  http::Router router;
};

std::string Header(const http::Response& response, std::string_view name) {
  for (const auto& [n, v] : response.headers) {
    if (n == name) return v;
  }
  return "";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(console, Fixture)

BOOST_AUTO_TEST_CASE(embeds_the_app_files_sorted_with_their_types) {
  const std::vector<ConsoleAsset> assets = ConsoleAssets();
  std::vector<std::string> names;
  for (const ConsoleAsset& a : assets) names.emplace_back(a.name);
  BOOST_TEST(std::is_sorted(names.begin(), names.end()));
  for (std::string want : {"index.html", "app.js", "api.js", "style.css"}) {
    BOOST_TEST((std::find(names.begin(), names.end(), want) != names.end()), want);
  }
  for (const ConsoleAsset& a : assets) {
    BOOST_TEST(!a.body.empty());
    BOOST_TEST(a.etag.size() == 18u);  // "\"" + 16 hex digits + "\""
    if (a.name.ends_with(".js")) BOOST_TEST(a.content_type == "text/javascript; charset=utf-8");
  }
}

BOOST_AUTO_TEST_CASE(index_with_csp_nosniff_and_revalidation) {
  const http::Response index = Get("/console/");
  BOOST_TEST(index.status == 200);
  BOOST_TEST(index.route == "/console/");
  BOOST_TEST(index.content_type == "text/html; charset=utf-8");
  BOOST_TEST(index.body.find("<script type=\"module\" src=\"app.js\"></script>") != std::string::npos);
  BOOST_TEST(Header(index, "Content-Security-Policy") == kConsoleContentSecurityPolicy);
  BOOST_TEST(Header(index, "X-Content-Type-Options") == "nosniff");
  BOOST_TEST(Header(index, "Cache-Control") == "no-cache");
  const std::string etag = Header(index, "ETag");
  BOOST_REQUIRE(etag.size() == 18u);

  const http::Response same = Get("/console/", {{"If-None-Match", etag}});
  BOOST_TEST(same.status == 304);
  BOOST_TEST(same.body.empty());
  const std::string weak_list = "\"0000000000000000\", W/" + etag;
  BOOST_TEST(Get("/console/", {{"If-None-Match", weak_list}}).status == 304);
  BOOST_TEST(Get("/console/", {{"If-None-Match", "\"0000000000000000\""}}).status == 200);
}

BOOST_AUTO_TEST_CASE(files_redirect_and_not_found) {
  const http::Response css = Get("/console/style.css");
  BOOST_TEST(css.status == 200);
  BOOST_TEST(css.content_type == "text/css; charset=utf-8");
  BOOST_TEST(css.route == "/console/{file}");

  const http::Response redirect = Get("/console");
  BOOST_TEST(redirect.status == 308);
  BOOST_TEST(Header(redirect, "Location") == "/console/");

  for (std::string_view path : {"/console/nope.js", "/console/README.md", "/console/..%2Fapi.js",
                                "/console/CMakeLists.txt"}) {
    const http::Response missing = Get(path);
    BOOST_TEST(missing.status == 404, path);
    BOOST_TEST(missing.body.find("\"NOT_FOUND\"") != std::string::npos, path);
    BOOST_TEST(Header(missing, "X-Content-Type-Options") == "nosniff", path);
  }
  BOOST_TEST(Get("/console/app.js/").status == 404);  // no route: one segment deeper
  BOOST_TEST(Get("/console//").status == 404);
}

BOOST_AUTO_TEST_CASE(router_trailing_slash_patterns_match_only_with_the_slash) {
  http::Router router;
  std::string hit;
  router.Add("GET", "/a/", [&hit](const http::Request&, http::Response&) { hit = "a/"; });
  router.Add("GET", "/b/{x}/", [&hit](const http::Request& q, http::Response&) {
    hit = "b/" + std::string(q.PathParam("x")) + "/";
  });
  const auto run = [&router](std::string_view path) {
    http::Request q;
    q.method = "GET";
    q.path = path;
    http::Response out;
    router.Dispatch(q, out);
    return out.status;
  };
  BOOST_TEST(run("/a/") == 200);
  BOOST_TEST(hit == "a/");
  BOOST_TEST(run("/a") == 404);
  BOOST_TEST(run("/b/1/") == 200);
  BOOST_TEST(hit == "b/1/");
  BOOST_TEST(run("/b/1") == 404);
  BOOST_TEST(run("/b//") == 404);
}

BOOST_AUTO_TEST_SUITE_END()
