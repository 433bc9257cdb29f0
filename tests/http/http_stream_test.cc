// Streamed bodies (Response::stream) over real loopback sockets: chunks arrive whole and the
// connection serves the next request; the producer goes at the client's pace (a client that
// reads nothing holds it to a bounded amount, and one that leaves stops it); HTTP/1.0 gets the
// body up to the close; a producer that throws leaves the body unfinished, never passed off as
// whole.
#define BOOST_TEST_MODULE http_stream
#include <atomic>

#include "tests/http/server_fixture.h"

using namespace keymeter::http;
using namespace keymeter::http::testing;

namespace {

struct StreamFixture : ServerFixture {
  StreamFixture() {
    // /stream?n=N: N chunks of 64 KiB, chunk i filled with 'a' + i % 26.
    router.Add("GET", "/stream", [this](const Request& q, Response& r) {
      const int n = std::stoi(std::string(q.QueryParam("n").value_or("4")));
      r.content_type = "text/plain";
      r.stream = [this, n](const BodyWriter& write) {
        for (int i = 0; i < n; ++i) {
          if (!write(std::string(64 << 10, char('a' + i % 26)))) {
            stopped = true;
            return;
          }
          produced += 64 << 10;
        }
        finished = true;
      };
    });
    router.Add("GET", "/stream-throws", [](const Request&, Response& r) {
      r.stream = [](const BodyWriter& write) {
        write("partial");
        throw std::runtime_error("disk on fire");
      };
    });
  }
  std::atomic<size_t> produced{0};
  std::atomic<bool> stopped{false};
  std::atomic<bool> finished{false};
};

std::string Expected(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += std::string(64 << 10, char('a' + i % 26));
  return s;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(stream, StreamFixture)

BOOST_AUTO_TEST_CASE(chunks_arrive_whole_and_the_connection_goes_on) {
  for (const bool pool : {true, false}) {
    BOOST_TEST_CONTEXT("offload pool " << pool) {
      ServerOptions options;
      if (pool) options.offload = [](const Request&) { return true; };
      Start(options);
      Client c(port());
      auto r = c.Get("/stream?n=40");
      BOOST_REQUIRE(r);
      BOOST_TEST(r->result_int() == 200u);
      BOOST_TEST(r->chunked());
      BOOST_TEST(r->body() == Expected(40));
      auto next = c.Get("/hello");  // the same connection
      BOOST_REQUIRE(next);
      BOOST_TEST(next->body() == "hello");
      BOOST_TEST(finished.load());
      server->Stop();
      finished = false;
    }
  }
}

BOOST_AUTO_TEST_CASE(the_producer_goes_at_the_clients_pace) {
  ServerOptions options;
  options.offload = [](const Request&) { return true; };
  Start(options);
  {
    Client c(port());
    BOOST_REQUIRE(c.Send("GET /stream?n=4000 HTTP/1.1\r\nHost: t\r\n\r\n"));  // 250 MiB
    std::this_thread::sleep_for(1500ms);  // reading nothing
    // What the socket buffers hold and kStreamBufferBytes: a few MiB, not 250.
    BOOST_TEST(produced.load() < size_t(32) << 20, produced.load());
    BOOST_TEST(!finished.load());
  }  // the client leaves
  for (auto deadline = Clock::now() + 5s; !stopped && Clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);
  }
  BOOST_TEST(stopped.load());  // its write said so, and it stopped
  BOOST_TEST(!finished.load());
}

BOOST_AUTO_TEST_CASE(http_1_0_gets_the_body_up_to_the_close) {
  Start();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string request = "GET /stream?n=3 HTTP/1.0\r\n\r\n";
  BOOST_REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size()));
  std::string all;
  char buf[65536];
  for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;  // the close ends the body
    all.append(buf, size_t(n));
  }
  ::close(fd);
  const size_t head_end = all.find("\r\n\r\n");
  BOOST_REQUIRE(head_end != std::string::npos);
  const std::string head = all.substr(0, head_end);
  BOOST_TEST(head.find("Transfer-Encoding") == std::string::npos);
  BOOST_TEST(head.find("Content-Length") == std::string::npos);
  BOOST_TEST(all.substr(head_end + 4) == Expected(3));
}

BOOST_AUTO_TEST_CASE(a_producer_that_throws_leaves_the_body_unfinished) {
  Start();
  Client c(port());
  auto r = c.Get("/stream-throws");
  BOOST_TEST(!r.has_value());  // no last chunk: the parser never sees the body end
  BOOST_TEST(c.WaitClosed(2s));
}

BOOST_AUTO_TEST_SUITE_END()
