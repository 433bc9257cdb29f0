// Internals of http::Server shared by http_server.cc (listening, accepting, stopping) and
// http_session.cc (one connection's request loop). Nothing else includes this file.
//
// Lifetimes: a Session is owned by the handlers of its pending operations (shared_ptr) and is
// listed, weakly, in Impl::sessions so that Stop() can reach it. Impl outlives every Session:
// Stop() waits for them (bounded) before the io_contexts stop.
//
// Thread safety: a Session's methods run on its io_context's one thread only (Run/Refuse/PostStop
// may be called from anywhere: they dispatch or post to it). Impl's registry is guarded by `mu`.

#pragma once

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "http/request_parser.h"
#include "http/server.h"
#include "schemas/thread_name.h"

namespace keymeter::http {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

class Session;

// The steps of a connection's request loop that need no socket, shared by Session and the HTTP
// fuzz target (tests/fuzz/http_fuzz.cc), so that the target runs exactly what a connection runs.
//
// The body limit of a request whose header block names `method` and raw `target`.
size_t BodyLimitOf(const ServerOptions& options, std::string_view method, std::string_view target,
                   std::string_view content_type);
// Fills `r` from the parsed message (string_views into `msg` and `remote`); nullptr when the
// request is acceptable, else the message of a 400 BAD_REQUEST.
const char* FillRequest(const RequestParser::Message& msg, std::string_view remote,
                        Request& r);
// Writes the status line and header block of `response` into `head` (cleared first) for HTTP
// version `version` (10 or 11) with keep-alive `keep`, as Beast's serializer would: the content
// type, the extra headers (any with CR or LF dropped), Content-Length unless the status has no
// body, and Connection when `keep` is not the version's default. Returns the body to send after
// it: response.body, or empty for 1xx, 204 and 304.
std::string_view SerializeHead(const Response& response, bool keep, unsigned version,
                               std::string* head);

// A connection's socket: its executor is its thread's io_context's, a concrete type (no
// type-erased `any_io_executor` copied and destroyed around every operation).
using Socket = net::basic_stream_socket<tcp, net::io_context::executor_type>;

struct Server::Impl {
  Impl(ServerOptions o, Handler h, size_t n);

  void Run(net::io_context& ioc);  // a worker thread's loop
  void Accept();
  void OnAccept(beast::error_code ec);
  void Unregister(uint64_t id, const std::string& peer);
  std::vector<std::shared_ptr<Session>> Snapshot();
  bool WaitClosed(std::chrono::milliseconds timeout);  // true when no session is left
  void Served(std::string_view route, int status, std::chrono::nanoseconds latency) const {
    if (options.on_served) options.on_served(route, status, latency);
  }

  const ServerOptions options;
  const Handler handler;
  std::string address;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};

  std::mutex mu;
  std::condition_variable all_closed;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions ABSL_GUARDED_BY(mu);
  uint64_t next_id ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<std::string, size_t> per_peer ABSL_GUARDED_BY(mu);  // open connections
  std::mutex stop_mu;
  bool stopped ABSL_GUARDED_BY(stop_mu) = false;

  // One io_context per I/O thread, each run by its thread alone: a connection lives on one of
  // them (round robin at accept) and needs no strand (what other threads post to it, the
  // offload pool and Stop(), goes through its io_context). Declared after the registry: a
  // session destroyed along with its io_context unregisters itself, so the registry must still
  // exist then.
  std::vector<std::unique_ptr<net::io_context>> iocs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor;  // on iocs[0]
  net::steady_timer retry{acceptor.get_executor()};
  std::optional<Socket> accepting;  // the socket the pending accept fills
  size_t next_ioc = 0;              // where the next connection goes
  std::vector<std::thread> threads;
  // Runs the handlers ServerOptions::offload picks; joined by Stop() after the I/O threads.
  std::optional<net::thread_pool> pool;
  std::atomic<size_t> offloaded{0};  // running or queued on `pool`

  // Runs `f` on `pool`, whose threads take the name km-offload at their first task (asio's
  // pool makes its threads itself).
  template <class F>
  void Offload(F&& f) {
    net::post(*pool, [f = std::forward<F>(f)]() mutable {
      static thread_local const bool named = (SetThreadName("km-offload"), true);
      (void)named;
      f();
    });
  }
};

// One connection: read a request, answer it, repeat; refuse with an error and close on a limit
// or a parse error. Every step runs on the connection's I/O thread.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& server, Socket socket, uint64_t id);
  ~Session();  // unregisters from the server

  void Run();     // starts the request loop
  // Answers 503 TOO_MANY_CONNECTIONS and closes: the server's limit, or the peer's.
  void Refuse(std::string_view why);
  const std::string& remote() const { return remote_; }
  // Closes the connection now (force) or only if it is between requests.
  void PostStop(bool force);

 private:
  enum class State { kIdle, kBusy, kClosing, kClosed };

  void ReadHeader();
  void ContinueHeader();  // parses what the buffer holds; reads more while the header is partial
  void OnHeader();
  void ReadBody();
  void OnReadError(beast::error_code ec);
  void Handle();
  void RunHandler();                          // the handler, on whichever thread
  void Respond(std::chrono::steady_clock::time_point start);  // on the I/O thread: metrics, write
  void ResetResponse();
  void Internal();
  void Fail(int status, Code code, std::string_view message);
  void Write(bool keep, unsigned version);
  // A streamed body (Response::stream): starts the producer, then writes what it queues.
  struct Stream;
  void StartStream(bool keep, bool chunked);
  void PumpStream();
  void Linger();
  void Drain();
  void Close();
  // The connection's deadline: each step sets it (a clock read), and one timer per connection
  // closes the socket once it passes, waking at most once per timeout instead of being armed
  // and cancelled around every read and write (beast::tcp_stream's way). The timer sees a
  // deadline moved later when it wakes; one moved earlier (the linger after a refusal) re-arms
  // it. While a handler runs, no deadline passes.
  void ExpiresAfter(std::chrono::steady_clock::duration d) {
    deadline_ = std::chrono::steady_clock::now() + d;
  }
  void WatchDeadline();

  Server::Impl& server_;
  Socket socket_;
  net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>,
                            net::io_context::executor_type>
      timer_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool handling_ = false;  // from Handle() to Respond(): the handler, not the peer, is at work
  const uint64_t id_;
  std::string remote_;
  State state_ = State::kBusy;
  bool unread_ = false;  // a request was refused before it was read whole
  beast::flat_buffer buffer_;
  RequestParser::Message message_;        // the request being read or answered
  std::optional<RequestParser> parser_;  // a new one per request, on message_
  std::string head_;  // the status line and headers being written
  std::shared_ptr<Stream> stream_;  // the streamed body being sent, if any
  std::string chunk_;               // the chunk being written
  Request request_;
  Response response_;
  std::array<char, 4096> discard_;
};

// Between the producer's thread and the connection's I/O thread.
struct Session::Stream {
  std::mutex mu;
  std::condition_variable room;  // pending has room again, or closed
  std::string pending ABSL_GUARDED_BY(mu);
  bool done ABSL_GUARDED_BY(mu) = false;     // the producer returned
  bool failed ABSL_GUARDED_BY(mu) = false;   // ... by throwing: the body ends short
  bool closed ABSL_GUARDED_BY(mu) = false;   // the connection is gone
  bool writing ABSL_GUARDED_BY(mu) = false;  // a PumpStream() is posted or its write in flight
  bool keep = false;
  bool chunked = true;
};

}  // namespace keymeter::http
