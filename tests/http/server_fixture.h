// What the http::Server tests share: a blocking loopback client on a raw socket and a fixture
// that serves a few routes on an ephemeral port.
#pragma once

#include <arpa/inet.h>
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

#include "http/router.h"
#include "http/server.h"

namespace keymeter::http::testing {

using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Reply = bhttp::response<bhttp::string_body>;
using Clock = std::chrono::steady_clock;

// A blocking loopback client on a raw socket; every wait is bounded, so no test can hang.
// Uses no Boost.Test macro (it runs on test threads too): a failed connect fails Send().
class Client {
 public:
  // Connects to 127.0.0.1:`port`, from `source` (another loopback address) when given.
  explicit Client(uint16_t port, const char* source = nullptr)
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (source != nullptr) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &from.sin_addr);
      (void)::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
    }
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

  // The next response, or nullopt on close, timeout or an unparsable reply. `head`: the answer
  // to a HEAD request (a header alone, whatever its Content-Length says).
  std::optional<Reply> Read(std::chrono::milliseconds timeout = 5s, bool head = false) {
    const Clock::time_point deadline = Clock::now() + timeout;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(head);
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

inline std::string ErrorCode(const Reply& r) {
  const size_t at = r.body().find("\"code\":\"");
  if (at == std::string::npos) return "";
  return r.body().substr(at + 8, r.body().find('"', at + 8) - at - 8);
}

}  // namespace keymeter::http::testing
