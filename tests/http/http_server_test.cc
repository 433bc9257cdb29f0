// http::Server over real loopback sockets: routing, keep-alive and pipelining, malformed
// requests. The limits, timeouts, handler failures, connection caps and Stop():
// http_server_limits_test.cc; the router and the JSON writer alone: router_test.cc.
#define BOOST_TEST_MODULE http_server
#include "tests/http/server_fixture.h"

using namespace keymeter::http;
using namespace keymeter::http::testing;

namespace {

// `bad` on a connection of its own gets 400 BAD_REQUEST, and the connection is closed.
void ExpectBadRequestAndClosed(uint16_t port, std::string_view bad) {
  BOOST_TEST_CONTEXT(bad.substr(0, 80)) {
    Client c(port);
    BOOST_REQUIRE(c.Send(bad));
    auto r = c.Read();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 400u);
    BOOST_TEST(ErrorCode(*r) == "BAD_REQUEST");
    BOOST_TEST(c.WaitClosed(3s));
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(server, ServerFixture)

BOOST_AUTO_TEST_CASE(get_answers_on_the_bound_port) {
  Start();
  BOOST_TEST(server->address() == "127.0.0.1:" + std::to_string(port()));
  Client c(port());
  auto r = c.Get("/hello");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 200u);
  BOOST_TEST(r->body() == "hello");
  BOOST_TEST(std::string((*r)[bhttp::field::content_type]) == "text/plain");
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_several_requests_on_one_connection) {
  Start();
  Client c(port());
  for (int i = 0; i < 3; ++i) {
    auto r = c.Get("/items/k" + std::to_string(i) + "?q=a+b%21");
    BOOST_REQUIRE(r);
    BOOST_TEST(r->body() == "k" + std::to_string(i) + "|a b!");
    BOOST_TEST(r->keep_alive());
  }
  BOOST_TEST(server->connection_count() == 1u);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  Start();
  Client c(port());
  BOOST_REQUIRE(
      c.Send("GET /items/a HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz"
             "GET /items/b HTTP/1.1\r\nHost: t\r\n\r\n"));
  for (const char* want : {"a|-", "xyz", "b|-"}) {
    auto r = c.Read();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->body() == want);
  }
}

// A connection reuses its request storage: nothing of a request outlives it (a header the next
// request lacks, a longer body, a chunked body).
BOOST_AUTO_TEST_CASE(a_request_sees_nothing_of_the_one_before_on_its_connection) {
  Start();
  Client c(port());
  BOOST_REQUIRE(
      c.Send("GET /header HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nX-B: 2\r\nX-Test: first\r\n\r\n"
             "GET /header HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nlonger"
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab"
             "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n"
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
  for (const char* want : {"first", "none", "longer", "ab", "cde", ""}) {
    auto r = c.Read();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->body() == want);
  }
}

BOOST_AUTO_TEST_CASE(unknown_routes_and_methods_get_404_and_405) {
  Start();
  Client c(port());
  auto r = c.Get("/nope");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 404u);
  BOOST_TEST(ErrorCode(*r) == "NOT_FOUND_ROUTE");
  BOOST_REQUIRE(c.Send("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.Read();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 405u);
  BOOST_TEST(ErrorCode(*r) == "METHOD_NOT_ALLOWED");
  BOOST_TEST(std::string((*r)[bhttp::field::allow]) == "GET");
  std::lock_guard<std::mutex> lock(mu);
  BOOST_REQUIRE(served.size() == 2u);
  BOOST_TEST((served[0] == std::pair<std::string, int>("", 404)));
  BOOST_TEST((served[1] == std::pair<std::string, int>("/hello", 405)));
}

BOOST_AUTO_TEST_CASE(headers_are_case_insensitive_and_absolute_form_targets_work) {
  Start();
  Client c(port());
  auto r = c.Get("/header", "X-TEST: value\r\n");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->body() == "value");
  r = c.Get("http://example.com/items/z%20z?q=1");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->body() == "z z|1");
}

BOOST_AUTO_TEST_CASE(malformed_requests_get_400_and_are_closed) {
  Start();
  for (const char* bad :
       {"GARBAGE\r\n\r\n", "GET /hello HTTP/9.x\r\n\r\n",
        "GET /items/a?q=%zz HTTP/1.1\r\nHost: t\r\n\r\n", "GET nopath HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /echo HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    ExpectBadRequestAndClosed(port(), bad);
  }
}

// A request refused before its handler ran (its target) is closed after the linger, even when
// the client keeps its end open: the refusal does not count as a handler at work.
BOOST_AUTO_TEST_CASE(a_refused_request_does_not_hold_its_connection) {
  Start();
  Client c(port());
  BOOST_REQUIRE(c.Send("GET nopath HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.Read();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 400u);
  const Clock::time_point deadline = Clock::now() + 6s;  // the linger is 2 s
  while (server->connection_count() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  BOOST_TEST(server->connection_count() == 0u);
}

// Framing a proxy in front could read otherwise is refused (400, closed): a transfer coding
// other than chunked (Beast would take it as no body, and the body as the next request), one
// before a Content-Length, chunked in HTTP/1.0; and a chunk-size line that never ends is cut
// at the read buffer's bound instead of growing it.
BOOST_AUTO_TEST_CASE(ambiguous_framing_is_refused) {
  Start();
  const std::string endless =
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
      std::string(200 << 10, 'a');
  for (const std::string& bad :
       {std::string("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
                    "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"),
        std::string("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n"
                    "Content-Length: 3\r\n\r\nabc"),
        std::string("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n"
                    "\r\n3\r\nabc\r\n0\r\n\r\n"),
        std::string("POST /echo HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n0\r\n\r\n"),
        endless}) {
    ExpectBadRequestAndClosed(port(), bad);
  }
}

// A chunked body's trailer fields are not kept: a field sent after the body is no header.
BOOST_AUTO_TEST_CASE(a_trailer_is_no_header) {
  Start();
  Client c(port());
  BOOST_REQUIRE(c.Send(
      "GET /header HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\nX-Test: smuggled\r\n\r\n"));
  auto r = c.Read();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->body() == "none");
}

// The answer to a HEAD has no body, so the next answer on the connection reads as itself.
BOOST_AUTO_TEST_CASE(head_answers_carry_no_body) {
  Start();
  Client c(port());
  BOOST_REQUIRE(c.Send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.Read(5s, /*head=*/true);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 405u);
  r = c.Read();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 200u);
  BOOST_TEST(r->body() == "hello");
}

BOOST_AUTO_TEST_SUITE_END()

// The one rule for "Authorization: Bearer <token>" (the API's credentials and authorize's key).
BOOST_AUTO_TEST_CASE(bearer_token_rule) {
  Request request;
  BOOST_TEST(!request.BearerToken());
  const std::pair<const char*, const char*> cases[] = {
      {"Bearer abc", "abc"},  {"bearer abc", "abc"},
      {"BEARER\tabc", "abc"}, {"  Bearer   abc  ", "abc"},
      {"Bearer a b", "a b"},  {"Bearer", nullptr},
      {"Bearer   ", nullptr}, {"Bearerabc", nullptr},
      {"Basic abc", nullptr}, {"", nullptr},
      {"Bearer\t \tk", "k"},
  };
  for (const auto& [header, token] : cases) {
    request.headers = {{"authorization", header}};
    const std::optional<std::string_view> got = request.BearerToken();
    BOOST_TEST_CONTEXT(header) {
      BOOST_TEST(got.has_value() == (token != nullptr));
      if (got && token) BOOST_TEST(*got == token);
    }
  }
  BOOST_TEST(EqualsIgnoreCase("Content-Type", "content-TYPE"));
  BOOST_TEST(!EqualsIgnoreCase("bearer", "bearer "));
  BOOST_TEST(TrimWhitespace(" \t x y\t ") == "x y");
}

// A session's Response is reused: ClearHeaders() empties it and later headers reuse the strings
// it kept, whatever their lengths.
BOOST_AUTO_TEST_CASE(response_headers_after_clear) {
  Response response;
  response.SetHeader("X-Keymeter-Reason", "DAILY_QUOTA_EXCEEDED");
  response.SetHeader("Retry-After", "1");
  response.ClearHeaders();
  BOOST_TEST(response.headers.empty());
  response.SetHeader("A", std::string(40, 'v'));
  response.SetHeader("X-Keymeter-Account", "acct");
  response.SetHeader("B", "");
  BOOST_REQUIRE_EQUAL(response.headers.size(), 3u);
  BOOST_TEST(response.headers[0].first == "A");
  BOOST_TEST(response.headers[0].second == std::string(40, 'v'));
  BOOST_TEST(response.headers[1].first == "X-Keymeter-Account");
  BOOST_TEST(response.headers[1].second == "acct");
  BOOST_TEST(response.headers[2].first == "B");
  BOOST_TEST(response.headers[2].second.empty());
}

// ServerOptions::offload: handlers that wait run on the offload pool, so while every one of
// them is blocked (more of them than I/O threads), an inline route still answers on the one I/O
// thread. Without the pool this deadlocks: the fast request times out and the test fails.
BOOST_FIXTURE_TEST_CASE(waiting_handlers_never_hold_the_io_thread_from_inline_routes,
                        ServerFixture) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> waiting{0};
  router.Add("GET", "/wait", [released, &waiting](const Request&, Response& r) {
    ++waiting;
    released.wait_for(10s);
    r.body = "waited";
  });
  router.Add(
      "GET", "/fast", [](const Request&, Response& r) { r.body = "fast"; }, Router::Lane::kInline);
  ServerOptions options;
  options.threads = 1;
  options.offload_threads = 4;
  options.max_offloaded = 4;
  options.offload = [this](const Request& q) { return !router.RunsInline(q); };
  Start(std::move(options));
  auto wait = [this]() -> std::optional<Reply> {
    Client c(port());
    if (!c.Send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")) return std::nullopt;
    return c.Read(15s);
  };
  std::vector<std::future<std::optional<Reply>>> waits;
  for (int i = 0; i < 4; ++i) waits.push_back(std::async(std::launch::async, wait));
  for (auto deadline = Clock::now() + 5s; waiting < 4 && Clock::now() < deadline;) {
    std::this_thread::sleep_for(5ms);
  }
  BOOST_REQUIRE(waiting == 4);
  Client c(port());
  BOOST_REQUIRE(c.Send("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::optional<Reply> fast = c.Read(2s);
  const bool answered = fast.has_value();
  // A fifth waiting request finds the pool's queue full (max_offloaded): 503, not a queue.
  Client full(port());
  std::optional<Reply> refused;
  if (full.Send("GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")) refused = full.Read(2s);
  release.set_value();  // before any REQUIRE can leave the waiters blocked
  BOOST_REQUIRE(answered);
  BOOST_TEST(fast->body() == "fast");
  BOOST_REQUIRE(refused);
  BOOST_TEST(refused->result_int() == 503u);
  BOOST_TEST(std::string((*refused)[bhttp::field::retry_after]) == "1");
  for (auto& w : waits) {
    std::optional<Reply> r = w.get();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->body() == "waited");
  }
}
