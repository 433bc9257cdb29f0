// http::Server: keymeter's HTTP/1.1 server (Boost.Beast on N Asio io_contexts, one per thread).
//
// Contract:
// - Start() binds "HOST:PORT" (port 0 = any free port; port() tells which) and serves until
//   Stop(). Connections are dealt to the I/O threads in turn and stay on theirs (an inline
//   handler that is slow delays its thread's other connections: `offload` is for those).
//   Each connection is read and answered one request at a time, in order, so
//   pipelined requests get their responses in the order they were sent. Keep-alive follows the
//   request (HTTP/1.1 default on, "Connection: close" off).
// - Limits answer with a JSON error body ({"error":{"code","message"}}) and close: a header
//   block over max_header_bytes → 431 HEADERS_TOO_LARGE, a body over the request's limit → 413
//   BODY_TOO_LARGE, anything unparsable → 400 BAD_REQUEST, and so is framing a proxy could read
//   otherwise (a Transfer-Encoding other than "chunked", or in HTTP/1.0). A chunked body's
//   trailer fields are never headers; the answer to HEAD has no body. A handler that throws → 500
//   INTERNAL. A connection idle or stalled past read_timeout is closed; beyond max_connections
//   in all, or max_connections_per_peer from one address, a new connection gets 503
//   TOO_MANY_CONNECTIONS and is closed.
// - Stop() stops accepting, closes idle connections, lets requests in flight finish (up to
//   drain_timeout, then closes the rest) and joins the threads. The destructor calls Stop().
//   Never call Stop() from inside a handler (it joins the handler's thread).
// - Nothing here logs a request's headers, path or body (they may carry keys).
//
// Thread safety: the handler is called concurrently from the worker threads, one request at a
// time per connection. Stop(), port() and address() are safe from any non-worker thread.

#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/status.h"
#include "schemas/text.h"

namespace keymeter::http {

// One request as the handler sees it. The string_views point into the connection's buffers and
// are valid only while the handler runs.
struct Request {
  std::string_view method;  // "GET", as sent (methods are case-sensitive)
  std::string_view target;  // raw request target: path and query
  std::string_view path;    // "/..." up to "?" (scheme and host of an absolute-form target
                            // dropped), not percent-decoded
  std::string_view body;
  std::string_view remote_address;                                     // peer IP, no port
  std::vector<std::pair<std::string_view, std::string_view>> headers;  // in order, as sent
  std::vector<std::pair<std::string, std::string>> query;  // decoded ('+' is a space), in order
  // {name} segments of the matched route pattern, percent-decoded. Filled by the Router just
  // before the route's handler runs (hence mutable: handlers receive a const Request).
  mutable std::vector<std::pair<std::string_view, std::string>> path_params;

  // The first value of header `name` (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
  // The credential of "Authorization: Bearer <token>" (RFC 6750): the scheme ASCII
  // case-insensitive, one or more spaces or tabs before the token, surrounding whitespace
  // dropped. nullopt when the header is absent, of another scheme, or has no token.
  std::optional<std::string_view> BearerToken() const;
  // The first value of query parameter `name`, or nullopt.
  std::optional<std::string_view> QueryParam(std::string_view name) const;
  // The value of path parameter `name` ("id" for "{id}"), or "" when the route has none.
  std::string_view PathParam(std::string_view name) const;
};

// A body made while it is sent: the server calls it on the offload pool (ServerOptions::
// offload; a thread of its own without one) once the status line and headers are written, and
// sends what it writes as HTTP/1.1 chunks (HTTP/1.0: until the connection closes). `write`
// returns once the chunk is queued; it waits while kStreamBufferBytes are unsent (the client's
// pace is the producer's), and returns false once the connection is gone: stop then.
using BodyWriter = std::function<bool(std::string_view chunk)>;
using StreamBody = std::function<void(const BodyWriter& write)>;
inline constexpr size_t kStreamBufferBytes = 256 << 10;

// What the handler fills in. Defaults: 200, application/json, empty body.
struct Response {
  int status = 200;  // outside 100..999 is sent as 500
  std::string content_type = "application/json";
  std::string body;
  // Extra headers. A name or value containing CR or LF is dropped, never sent.
  std::vector<std::pair<std::string, std::string>> headers;
  // The route pattern that answered ("/v1/keys/{id}"), set by the Router; "" when no route
  // matched. Metrics label requests by it, never by the raw path.
  std::string_view route;
  bool close = false;  // close the connection after this response
  // When set (status 200), the body is this stream's output and `body` is ignored.
  StreamBody stream;

  // Adds a header. Its strings come from those ClearHeaders() kept, so a connection's answers
  // allocate none once warm (authorize sets six to nine headers per answer).
  void SetHeader(std::string_view name, std::string_view value) {
    if (spare_headers_.empty()) {
      headers.emplace_back(name, value);
      return;
    }
    headers.push_back(std::move(spare_headers_.back()));
    spare_headers_.pop_back();
    headers.back().first.assign(name);
    headers.back().second.assign(value);
  }
  // Empties `headers`, keeping their strings for the next SetHeader() calls.
  void ClearHeaders() {
    for (auto& header : headers) spare_headers_.push_back(std::move(header));
    headers.clear();
  }

 private:
  std::vector<std::pair<std::string, std::string>> spare_headers_;
};

using Handler = std::function<void(const Request&, Response&)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // "HOST:PORT", "[::1]:PORT"; empty HOST = 0.0.0.0
  size_t threads = 0;                     // 0 = std::thread::hardware_concurrency()
  size_t max_header_bytes = 8 << 10;      // request line + headers
  size_t max_body_bytes = 1 << 20;
  // Optional per-request body limit, asked once the headers are in (from the route and the
  // Content-Type, "" when absent); unset = max_body_bytes for every request.
  std::function<size_t(std::string_view method, std::string_view path,
                       std::string_view content_type)>
      body_limit;
  std::chrono::milliseconds read_timeout{30'000};  // per header block, per body, and idle
  std::chrono::milliseconds write_timeout{30'000};
  size_t max_connections = 10'000;
  // Connections one peer address may hold at once (a reverse proxy is one peer: keep this above
  // its pool of kept-alive upstream connections); beyond it 503 TOO_MANY_CONNECTIONS.
  size_t max_connections_per_peer = 1'000;
  std::chrono::milliseconds drain_timeout{5'000};  // Stop()'s wait for requests in flight
  // Optional: requests it answers true for run their handler on a pool of `offload_threads`
  // of their own instead of the I/O thread that read them, so a handler that waits (seconds,
  // for a command's outcome or a broker) never holds a thread that fast requests need. Unset:
  // every handler runs on the I/O threads. Called on the I/O thread once the request is read.
  std::function<bool(const Request&)> offload;
  size_t offload_threads = 16;
  // Offloaded requests running or queued at once; beyond it a request answers 503
  // SERVICE-UNAVAILABLE with Retry-After (the queue, and the bodies it holds, stay bounded).
  size_t max_offloaded = 256;
  // Called after every response is produced (handler or server error), on the worker thread:
  // the route pattern ("" when none), the status and the time from the complete request to the
  // response being ready.
  std::function<void(std::string_view route, int status, std::chrono::nanoseconds latency)>
      on_served;
};

class Server {
 public:
  // Binds, listens and starts the threads. LISTEN-ERROR when the address does not parse or
  // resolve or cannot be bound (the message says which and why).
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void Stop();

  uint16_t port() const;
  // The bound address as "HOST:PORT" ("[HOST]:PORT" for IPv6), with the real port.
  const std::string& address() const;
  // Connections currently open (including those being refused or closed).
  size_t connection_count() const;

  // Internals (Asio stays out of this header). Construct with Start(), not directly.
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// schemas/text.h's, under the names http's users know them by.
using keymeter::EqualsIgnoreCase;
using keymeter::TrimWhitespace;

// Percent-decodes `in` into `out` (replacing it); with `plus_is_space`, '+' becomes ' '
// (query strings). False on a malformed escape ('%' not followed by two hex digits).
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

// Parses "a=1&b=x+y" into decoded pairs appended to `out` ("a" alone gives ("a","")).
// False on a malformed escape; `out` then holds the pairs before it.
bool ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out);

}  // namespace keymeter::http
