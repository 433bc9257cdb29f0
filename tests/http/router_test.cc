// http::Router alone (route order, literal segments before parameters, 404/405/400) and the
// JSON writer's escaping; the server over sockets is http_server_test.cc.
#define BOOST_TEST_MODULE router
#include "http/router.h"

#include <boost/test/unit_test.hpp>

#include "http/json.h"

using namespace keymeter::http;

BOOST_AUTO_TEST_SUITE(router)

BOOST_AUTO_TEST_CASE(lists_routes_in_registration_order) {
  Router r;
  const Handler noop = [](const Request&, Response&) {};
  r.Add("GET", "/healthz", noop);
  r.Add("POST", "/v1/keys/{id}/rotate", noop);
  r.Add("GET", "/healthz/x", noop);
  r.Add("PUT", "/v1/keys/{id}/rotate", noop);
  BOOST_REQUIRE(r.Routes().size() == 4u);
  BOOST_TEST(r.Routes()[1].method == "POST");
  BOOST_TEST(r.Routes()[1].pattern == "/v1/keys/{id}/rotate");
  BOOST_TEST(r.Routes()[3].method == "PUT");
}

BOOST_AUTO_TEST_CASE(a_route_runs_inline_only_when_registered_so) {
  Router r;
  const Handler noop = [](const Request&, Response&) {};
  r.Add("GET", "/v1/authorize", noop, Router::Lane::kInline);
  r.Add("POST", "/v1/authorize", noop);
  r.Add("POST", "/v1/keys/{id}/rotate", noop);
  auto inline_for = [&r](std::string_view method, std::string_view path) {
    Request q;
    q.method = method;
    q.path = path;
    return r.RunsInline(q);
  };
  BOOST_TEST(inline_for("GET", "/v1/authorize"));
  BOOST_TEST(!inline_for("POST", "/v1/authorize"));  // per method
  BOOST_TEST(!inline_for("POST", "/v1/keys/abc/rotate"));
  BOOST_TEST(inline_for("GET", "/nowhere"));             // a 404 answers at once
  BOOST_TEST(inline_for("DELETE", "/v1/keys/abc/rotate"));  // and a 405
}

BOOST_AUTO_TEST_CASE(more_literal_segments_win_then_registration_order) {
  Router r;
  std::string hit;
  auto mark = [&hit](std::string name) {
    return [&hit, name](const Request& q, Response&) {
      hit = name + ":" + std::string(q.PathParam("a"));
    };
  };
  r.Add("GET", "/x/{a}/{b}", mark("params"));
  r.Add("GET", "/x/{a}/z", mark("literal"));
  r.Add("GET", "/y/{a}/c", mark("first"));
  r.Add("GET", "/y/b/{a}", mark("second"));
  r.Add("GET", "/x/me/z", mark("exact"));
  const auto run = [&r](std::string_view path) {
    Request q;
    q.method = "GET";
    q.path = path;
    Response out;
    r.Dispatch(q, out);
    return out;
  };
  run("/x/1/z");
  BOOST_TEST(hit == "literal:1");
  run("/x/1/q");
  BOOST_TEST(hit == "params:1");
  run("/y/b/c");
  BOOST_TEST(hit == "first:b");
  run("/x/me/z");
  BOOST_TEST(hit == "exact:");
  run("/x/a%2Fb/z");
  BOOST_TEST(hit == "literal:a/b");
  BOOST_TEST(run("/x/1/z").route == "/x/{a}/z");
  BOOST_TEST(run("/x//z").status == 404);
  BOOST_TEST(run("/x/1/z/").status == 404);
  BOOST_TEST(run("/x/%zz/z").status == 400);
  BOOST_TEST(run("").status == 404);
}

BOOST_AUTO_TEST_CASE(method_not_allowed_lists_the_allowed_methods) {
  Router r;
  const Handler noop = [](const Request&, Response&) {};
  r.Add("GET", "/k/{id}", noop);
  r.Add("DELETE", "/k/{id}", noop);
  Request q;
  q.method = "POST";
  q.path = "/k/1";
  Response out;
  r.Dispatch(q, out);
  BOOST_TEST(out.status == 405);
  BOOST_REQUIRE(out.headers.size() == 1u);
  BOOST_TEST(out.headers[0].second == "GET, DELETE");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json)

BOOST_AUTO_TEST_CASE(escapes_and_replaces_invalid_utf8) {
  BOOST_TEST(ErrorBody("X", "a\"b\\c\n\x01 é \xff") ==
             "{\"error\":{\"code\":\"X\",\"message\":\"a\\\"b\\\\c\\n\\u0001 é \\ufffd\"}}");
  JsonWriter w;
  w.BeginObject().Key("a").Int(-1).Key("b").BeginArray().Bool(true).Null().Double(0.5).EndArray();
  w.Key("c").String("x").EndObject();
  BOOST_TEST(w.str() == R"({"a":-1,"b":[true,null,0.5],"c":"x"})");
}

BOOST_AUTO_TEST_SUITE_END()
