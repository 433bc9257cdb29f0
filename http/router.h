// http::Router: dispatches a request to the handler registered for its method and path.
//
// Patterns are absolute paths whose segments are literals or "{name}" parameters, each
// parameter matching one non-empty segment: "/v1/keys/{id}/rotate"; a pattern may end with
// "/" ("/console/"), matching only paths with that trailing slash. A path matches a pattern
// with the same number of segments whose literals are equal (case-sensitive); when several
// match, the one with the most literal segments wins ("/v1/keys/me" beats "/v1/keys/{id}"),
// then the first registered. Captured parameters are percent-decoded into
// Request::path_params and the pattern is set as Response::route.
//
// Dispatch answers on its own: 404 NOT_FOUND_ROUTE when no pattern matches the path, 405
// METHOD_NOT_ALLOWED (with an Allow header) when patterns match but none for the method, 400
// BAD_REQUEST for a malformed escape in a parameter.
//
// Thread safety: Add() before the server starts, from one thread; then Dispatch() and Routes()
// are safe from any number of threads (the router is read-only once serving).

#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "http/server.h"

namespace keymeter::http {

class Router {
 public:
  struct Route {
    std::string method;
    std::string pattern;
  };

  // Where the server runs a route's handler (ServerOptions::offload asks RunsInline()):
  // kWaits, the default, on the server's pool for handlers that may wait (an admin write
  // awaiting its outcome, a publish awaiting Kafka, a store scan); kInline on the I/O thread,
  // for handlers that answer from memory at once (authorize, health, the console's files).
  enum class Lane { kWaits, kInline };

  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `method` on `pattern`. A malformed pattern (not starting with '/',
  // an empty segment other than a trailing slash, a "{" that is not a whole segment, a
  // parameter name used twice) or a method+pattern already registered is a programmer error:
  // logged, then abort().
  void Add(std::string_view method, std::string_view pattern, Handler handler,
           Lane lane = Lane::kWaits);

  // Replaces every registered handler with `wrap(route, handler)` (a concern that spans
  // routes, decided per route: api/idempotency.h). Before the server starts, like Add().
  void Wrap(const std::function<Handler(const Route&, Handler)>& wrap);

  // Runs the handler that matches `request`, or answers 404/405/400 as above.
  void Dispatch(const Request& request, Response& response) const;

  // True when `request` goes to a kInline route, or to none (404/405 answer at once).
  bool RunsInline(const Request& request) const;
  // A Handler for Server::Start() that dispatches through this router, which must outlive it.
  Handler AsHandler() const {
    return [this](const Request& request, Response& response) { Dispatch(request, response); };
  }

  // Every registered method and pattern, in registration order.
  const std::vector<Route>& Routes() const { return routes_; }

 private:
  struct Entry {
    std::string pattern;
    std::vector<std::string> segments;  // "{id}" kept as is
    size_t literals = 0;
    std::vector<std::pair<std::string, Handler>> methods;
    std::vector<Lane> lanes;  // of `methods`, index for index
    std::string allow;  // "GET, POST"
  };
  static constexpr size_t kMaxParams = 8;

  // The best entry for `path`, its captured segments in `captures`; nullptr when none.
  const Entry* Match(std::string_view path, std::string_view* captures) const;

  std::vector<std::unique_ptr<Entry>> entries_;           // stable addresses
  absl::flat_hash_map<std::string, const Entry*> exact_;  // patterns without parameters
  std::vector<const Entry*> parameterized_;
  std::vector<Route> routes_;
};

}  // namespace keymeter::http
