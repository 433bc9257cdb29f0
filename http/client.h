// http::Client: a tiny synchronous HTTP/1.1 client (Boost.Beast) for keymeter's own API on
// loopback, used by `keymeter demo` and `keymeter loadgen`. Not a general-purpose client: no
// TLS, no redirects, no chunked uploads.
//
// Contract:
// - Send() writes one request on a keep-alive connection (opened on first use) and returns the
//   status and body of the answer, whatever the status (a 4xx is a reply, not an error).
// - Every Send() is bounded by the client's timeout (connect, write and read together).
// - Errors are values: HTTP-ERROR (could not connect, write, read or parse; the message says
//   which). After an error the connection is dropped and the next Send() opens a new one. A
//   failure on a reused connection (the server closed it while idle) is retried once on a fresh
//   one; the API dedupes events by request id, so a retried events batch is not double counted.
// - Nothing here logs a request or an answer (they carry keys and tokens).
//
// Thread safety: a Client is used by one thread at a time; separate Clients are independent.

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/status.h"

namespace keymeter::http {

using ClientHeaders = std::vector<std::pair<std::string, std::string>>;

struct ClientReply {
  int status = 0;
  std::string body;
  ClientHeaders headers;  // as received, in order (Content-Type and Content-Length too)
};

class Client {
 public:
  // `host` is an IP address or a name the resolver knows ("localhost").
  Client(std::string host, uint16_t port,
         std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request. `bearer`, when not empty, is sent as "Authorization: Bearer <bearer>";
  // `content_type` only with a body.
  Result<ClientReply> Send(std::string_view method, std::string_view target,
                           std::string_view bearer = "", std::string_view body = "",
                           std::string_view content_type = "application/json",
                           const ClientHeaders& headers = {});

 private:
  struct Impl;
  Result<ClientReply> SendOnce(std::string_view method, std::string_view target,
                               std::string_view bearer, std::string_view body,
                               std::string_view content_type, const ClientHeaders& headers);
  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
};

// "HOST:PORT" or "http://HOST:PORT[/]" → {host, port}; nullopt when malformed (no port, a port
// outside 0..65535, another scheme, a path).
std::optional<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text);

// The string or integer at JSON `pointer` ("/keys/0/key_id") of `json`; nullopt when `json` is
// not JSON or the value is absent or of another type.
std::optional<std::string> JsonString(std::string_view json, std::string_view pointer);
std::optional<int64_t> JsonInt(std::string_view json, std::string_view pointer);

}  // namespace keymeter::http
