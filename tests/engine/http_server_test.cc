// http::Server over real loopback sockets: routing, keep-alive and pipelining, the limits and
// their error codes, timeouts, connection caps and a clean Stop(). The router and the JSON
// writer alone: router_test.cc.
#define BOOST_TEST_MODULE http_server
#include "engine/http_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "engine/router.h"

using namespace keymeter::http;
using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Reply = bhttp::response<bhttp::string_body>;
using Clock = std::chrono::steady_clock;

namespace {

// A blocking loopback client on a raw socket; every wait is bounded, so no test can hang.
// Uses no Boost.Test macro (it runs on test threads too): a failed connect fails Send().
class Client {
 public:
  explicit Client(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool Send(std::string_view bytes) {
    if (!connected_) return false;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(size_t(n));
    }
    return true;
  }

  // The next response, or nullopt on close, timeout or an unparsable reply.
  std::optional<Reply> Read(std::chrono::milliseconds timeout = 5s) {
    const Clock::time_point deadline = Clock::now() + timeout;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.eager(true);
    parser.body_limit(64 << 20);
    while (!parser.is_done()) {
      beast::error_code ec;
      const size_t n = pending_.empty() ? 0 : parser.put(boost::asio::buffer(pending_), ec);
      pending_.erase(0, n);
      if (ec && ec != bhttp::error::need_more) return std::nullopt;
      if (parser.is_done()) break;
      if ((n == 0 || pending_.empty()) && Fill(deadline) <= 0) return std::nullopt;
    }
    return parser.release();
  }

  std::optional<Reply> Get(std::string_view target, std::string_view extra_headers = "") {
    if (!Send(std::string("GET ") + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" +
              std::string(extra_headers) + "\r\n")) {
      return std::nullopt;
    }
    return Read();
  }

  // True when the server closes the connection within `timeout` (reading and dropping data).
  bool WaitClosed(std::chrono::milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
      const int n = Fill(deadline);
      if (n == 0) return true;  // EOF or reset
      if (n < 0) return false;  // timed out
      pending_.clear();
    }
  }

 private:
  // Receives into pending_: >0 bytes, 0 on EOF or error, -1 on timeout.
  int Fill(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0) return -1;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return 0;
    pending_.append(buf, size_t(n));
    return int(n);
  }

  int fd_;
  bool connected_ = false;
  std::string pending_;
};

struct ServerFixture {
  ServerFixture() {
    router.Add("GET", "/hello", [](const Request&, Response& r) {
      r.content_type = "text/plain";
      r.body = "hello";
    });
    router.Add("POST", "/echo",
               [](const Request& q, Response& r) { r.body = std::string(q.body); });
    router.Add("GET", "/items/{id}", [](const Request& q, Response& r) {
      r.body = std::string(q.PathParam("id")) + "|" + std::string(q.QueryParam("q").value_or("-"));
    });
    router.Add("GET", "/header", [](const Request& q, Response& r) {
      r.body = std::string(q.Header("x-test").value_or("none"));
    });
    router.Add("GET", "/slow", [](const Request&, Response& r) {
      std::this_thread::sleep_for(300ms);
      r.body = "slow";
    });
    router.Add("GET", "/throw", [](const Request&, Response& r) {
      r.SetHeader("X-Partial", "1");
      throw std::runtime_error("x");
    });
    router.Add("GET", "/odd", [](const Request&, Response& r) {
      r.status = 204;
      r.body = "dropped";
      r.SetHeader("X-Bad", "a\r\nSet-Cookie: x=1");
      r.SetHeader("X-Good", "yes");
    });
  }

  void Start(ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.threads = options.threads == 0 ? 2 : options.threads;
    options.on_served = [this](std::string_view route, int status, std::chrono::nanoseconds) {
      std::lock_guard<std::mutex> lock(mu);
      served.emplace_back(std::string(route), status);
    };
    auto started = Server::Start(std::move(options), router.AsHandler());
    BOOST_REQUIRE_MESSAGE(started, (started ? "" : started.error().ToString()));
    server = std::move(started.value());
    BOOST_REQUIRE(server->port() != 0);
  }
  uint16_t port() const { return server->port(); }

  Router router;
  std::unique_ptr<Server> server;
  std::mutex mu;
  std::vector<std::pair<std::string, int>> served;
};

std::string ErrorCode(const Reply& r) {
  const size_t at = r.body().find("\"code\":\"");
  if (at == std::string::npos) return "";
  return r.body().substr(at + 8, r.body().find('"', at + 8) - at - 8);
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
    BOOST_TEST_CONTEXT(bad) {
      Client c(port());
      BOOST_REQUIRE(c.Send(bad));
      auto r = c.Read();
      BOOST_REQUIRE(r);
      BOOST_TEST(r->result_int() == 400u);
      BOOST_TEST(ErrorCode(*r) == "BAD_REQUEST");
      BOOST_TEST(c.WaitClosed(3s));
    }
  }
}

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

BOOST_AUTO_TEST_CASE(a_stalled_client_is_cut_off_after_the_read_timeout) {
  ServerOptions options;
  options.read_timeout = 300ms;
  Start(options);
  Client half(port());
  BOOST_REQUIRE(half.Send("GET /hello HTTP/1.1\r\nHost: t\r\n"));
  const Clock::time_point start = Clock::now();
  BOOST_TEST(half.WaitClosed(3s));
  const auto waited = Clock::now() - start;
  BOOST_TEST((waited >= 250ms));
  BOOST_TEST((waited < 2s));
  Client idle(port());  // an idle keep-alive connection too
  BOOST_REQUIRE(idle.Get("/hello"));
  BOOST_TEST(idle.WaitClosed(3s));
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

BOOST_AUTO_TEST_CASE(connections_beyond_the_limit_are_refused) {
  ServerOptions options;
  options.max_connections = 3;
  Start(options);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(port()));
    BOOST_REQUIRE(clients.back()->Get("/hello"));
  }
  {
    Client extra(port());
    auto r = extra.Read();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 503u);
    BOOST_TEST(ErrorCode(*r) == "TOO_MANY_CONNECTIONS");
    BOOST_TEST(extra.WaitClosed(3s));
  }
  clients.pop_back();
  for (int i = 0; i < 300 && server->connection_count() > 2; ++i) std::this_thread::sleep_for(10ms);
  BOOST_TEST(server->connection_count() == 2u);
  Client again(port());
  auto r = again.Get("/hello");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->result_int() == 200u);
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
      BOOST_TEST(r.error().code() == "LISTEN-ERROR");
    }
  }
  Start();
  auto taken = Server::Start(ServerOptions{.listen = server->address()}, router.AsHandler());
  BOOST_REQUIRE(!taken);
  BOOST_TEST(taken.error().code() == "LISTEN-ERROR");
}

BOOST_AUTO_TEST_SUITE_END()
