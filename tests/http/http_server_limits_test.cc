// http::Server's limits over real loopback sockets: header and body sizes and their error codes,
// 100-continue, the read timeout, handler exceptions, HTTP/1.0, the connection cap, many
// connections, a clean and a bounded Stop(), listen errors.
#define BOOST_TEST_MODULE http_server_limits
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include "tests/http/server_fixture.h"

using namespace keymeter::http;
using namespace keymeter::http::testing;

BOOST_FIXTURE_TEST_SUITE(server, ServerFixture)

BOOST_AUTO_TEST_CASE(oversized_headers_get_431) {
  Start();
  Client c(port());
  auto r = c.Get("/hello", "X-Big: " + std::string(9000, 'a') + "\r\n");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 431u);
  BOOST_TEST(ErrorCode(*r) == "HEADERS_TOO_LARGE");
  BOOST_TEST(c.WaitClosed(3s));
}

BOOST_AUTO_TEST_CASE(oversized_bodies_get_413_whether_announced_or_chunked) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  Start(options);
  {
    Client c(port());
    BOOST_REQUIRE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n" +
                         std::string(1024, 'x')));
    auto r = c.Read();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 200u);
    BOOST_TEST(r->body().size() == 1024u);
  }
  {
    Client c(port());
    BOOST_REQUIRE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" +
                         std::string(5000, 'x')));
    auto r = c.Read();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 413u);
    BOOST_TEST(ErrorCode(*r) == "BODY_TOO_LARGE");
  }
  {
    Client c(port());
    BOOST_REQUIRE(
        c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "7d0\r\n" +
               std::string(2000, 'y') + "\r\n0\r\n\r\n"));
    auto r = c.Read();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 413u);
  }
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_honoured) {
  Start();
  Client c(port());
  BOOST_REQUIRE(
      c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto interim = c.Read();
  BOOST_REQUIRE(interim);
  BOOST_TEST(interim->result_int() == 100u);
  BOOST_REQUIRE(c.Send("ok"));
  auto r = c.Read();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->body() == "ok");
}

// With two I/O threads (an io_context each) and with one: the deadline is the
// connection's own timer either way.
BOOST_DATA_TEST_CASE_F(ServerFixture, a_stalled_client_is_cut_off_after_the_read_timeout,
                       boost::unit_test::data::make({1, 2}), threads) {
  ServerOptions options;
  options.read_timeout = 150ms;  // shorter than /slow's 300 ms
  options.threads = size_t(threads);
  // /slow on the pool, as serve runs its waiting routes: the I/O thread (and the connection's
  // timer) stays free meanwhile.
  options.offload = [](const Request& q) { return q.path == "/slow"; };
  options.offload_threads = 2;
  Start(options);
  Client half(port());
  BOOST_REQUIRE(half.Send("GET /hello HTTP/1.1\r\nHost: t\r\n"));
  const Clock::time_point start = Clock::now();
  BOOST_TEST(half.WaitClosed(3s));
  const auto waited = Clock::now() - start;
  BOOST_TEST((waited >= 100ms));
  BOOST_TEST((waited < 2s));
  Client idle(port());  // an idle keep-alive connection too
  BOOST_REQUIRE(idle.Get("/hello"));
  BOOST_TEST(idle.WaitClosed(3s));
  // A handler slower than the read timeout is the server's time, not the peer's: it answers.
  Client waiting(port());
  auto slow = waiting.Get("/slow");
  BOOST_REQUIRE(slow);
  BOOST_TEST(slow->body() == "slow");
}

BOOST_AUTO_TEST_CASE(handler_exceptions_become_500_and_bodies_of_204_are_dropped) {
  Start();
  Client c(port());
  auto r = c.Get("/throw");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 500u);
  BOOST_TEST(ErrorCode(*r) == "INTERNAL");
  BOOST_TEST(r->count("X-Partial") == 0u);
  r = c.Get("/odd");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 204u);
  BOOST_TEST(r->body().empty());
  BOOST_TEST(r->count(bhttp::field::content_type) == 0u);  // no content, no Content-Type
  BOOST_TEST(r->count("X-Bad") == 0u);
  BOOST_TEST(std::string((*r)["X-Good"]) == "yes");
  BOOST_TEST(c.Get("/hello").has_value());  // the connection survived both
}

BOOST_AUTO_TEST_CASE(http_1_0_without_keep_alive_is_closed_after_the_response) {
  Start();
  Client c(port());
  BOOST_REQUIRE(c.Send("GET /hello HTTP/1.0\r\n\r\n"));
  auto r = c.Read();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->body() == "hello");
  BOOST_TEST(c.WaitClosed(3s));
}

// `n` connections from 127.0.0.1 that each had an answer; then one more that must be refused
// with 503 TOO_MANY_CONNECTIONS and closed.
std::vector<std::unique_ptr<Client>> FillThenExpectRefused(uint16_t port, int n) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<Client>(port));
    BOOST_REQUIRE(clients.back()->Get("/hello"));
  }
  Client extra(port);
  auto r = extra.Read();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 503u);
  BOOST_TEST(ErrorCode(*r) == "TOO_MANY_CONNECTIONS");
  BOOST_TEST(extra.WaitClosed(3s));
  return clients;
}

// Closes one of `clients` and expects a new connection from 127.0.0.1 to be served.
void ExpectASlotBack(ServerFixture& f, std::vector<std::unique_ptr<Client>>& clients) {
  const size_t left = clients.size() - 1;
  clients.pop_back();
  for (int i = 0; i < 300 && f.server->connection_count() > left; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  BOOST_TEST(f.server->connection_count() == left);
  Client again(f.port());
  auto r = again.Get("/hello");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 200u);
}

BOOST_AUTO_TEST_CASE(connections_beyond_the_limit_are_refused) {
  ServerOptions options;
  options.max_connections = 3;
  Start(options);
  std::vector<std::unique_ptr<Client>> clients = FillThenExpectRefused(port(), 3);
  ExpectASlotBack(*this, clients);
}

BOOST_AUTO_TEST_CASE(one_peer_holds_at_most_its_share_of_connections) {
  ServerOptions options;
  options.max_connections_per_peer = 2;
  Start(options);
  std::vector<std::unique_ptr<Client>> clients = FillThenExpectRefused(port(), 2);
  {  // Another address is not held back by the first one's.
    Client other(port(), "127.0.0.2");
    auto r = other.Get("/hello");
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 200u);
  }
  ExpectASlotBack(*this, clients);
}

BOOST_AUTO_TEST_CASE(many_concurrent_connections) {
  ServerOptions options;
  options.threads = 4;
  Start(options);
  constexpr int kOpen = 200;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kOpen; ++i) clients.push_back(std::make_unique<Client>(port()));
  for (int i = 0; i < kOpen; ++i) {
    BOOST_REQUIRE(
        clients[i]->Send("GET /items/" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  int ok = 0;
  for (int i = 0; i < kOpen; ++i) {
    auto r = clients[i]->Read();
    ok += r && r->body() == std::to_string(i) + "|-";
  }
  BOOST_TEST(ok == kOpen);

  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Client c(port());
      for (int i = 0; i < 200; ++i) {
        auto r = c.Get("/items/" + std::to_string(t * 1000 + i));
        if (r && r->body() == std::to_string(t * 1000 + i) + "|-") ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(good.load() == 8 * 200);
}

BOOST_AUTO_TEST_CASE(stop_closes_idle_connections_and_lets_requests_in_flight_finish) {
  Start();
  Client idle(port());
  BOOST_REQUIRE(idle.Get("/hello"));
  Client busy(port());
  BOOST_REQUIRE(busy.Send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(100ms);  // /slow is running now
  const Clock::time_point start = Clock::now();
  auto stopped = std::async(std::launch::async, [this] { server->Stop(); });
  auto r = busy.Read();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->body() == "slow");
  BOOST_TEST(!r->keep_alive());
  BOOST_TEST(idle.WaitClosed(2s));
  BOOST_TEST((stopped.wait_for(3s) == std::future_status::ready));
  BOOST_TEST((Clock::now() - start < 3s));
  BOOST_TEST(server->connection_count() == 0u);
  server->Stop();  // idempotent
}

BOOST_AUTO_TEST_CASE(stop_is_bounded_by_the_drain_timeout) {
  ServerOptions options;
  options.drain_timeout = 300ms;
  Start(options);
  Client half(port());
  BOOST_REQUIRE(half.Send("GET /hello HTTP/1.1\r\n"));
  std::this_thread::sleep_for(50ms);
  const Clock::time_point start = Clock::now();
  server.reset();  // the destructor stops
  BOOST_TEST((Clock::now() - start < 2s));
  BOOST_TEST(half.WaitClosed(2s));
}

BOOST_AUTO_TEST_CASE(listen_errors_are_values) {
  for (const char* bad :
       {"127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000", "::1:80", "1.2.3.4.5:80x"}) {
    auto r = Server::Start(ServerOptions{.listen = bad}, router.AsHandler());
    BOOST_TEST_CONTEXT(bad) {
      BOOST_REQUIRE(!r);
      BOOST_TEST(r.error().name() == "LISTEN-ERROR");
    }
  }
  Start();
  auto taken = Server::Start(ServerOptions{.listen = server->address()}, router.AsHandler());
  BOOST_REQUIRE(!taken);
  BOOST_TEST(taken.error().name() == "LISTEN-ERROR");
}

BOOST_AUTO_TEST_SUITE_END()
