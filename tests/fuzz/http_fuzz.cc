// Fuzz target: raw bytes from a client → Beast's request parser with the server's limits → the
// request the handler sees → the router of `keymeter serve` with every route registered, over a
// real engine (embedded log, RocksDB in a temp dir) → the response as written, which must parse
// back.
//
// What a connection does (http/session.cc) is done here without a socket, through the
// same functions (BodyLimitOf, FillRequest, SerializeHead): header block limited to 8 KiB, body
// limited per route (16 MiB for POST /v1/events, 1 MiB otherwise; the fuzzer's -max_len keeps
// inputs far below), up to 4 pipelined requests per input while keep-alive holds.
//
// The engine is seeded once with an account whose admin token, a root key and a child key are
// known (tests/fuzz/README.md lists them; the seed corpus uses them), then its projector is
// stopped, so that every input sees the same state: writes are appended to the embedded log
// and answer 202 (ApiOptions::command_timeout 0) and reads see the seeded projections. Failed
// credentials and refused commands are not rate-limited here (their limits 0), or the fuzzer
// would be locked out after ten inputs; the limiters have their own tests.
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <boost/beast/core/buffers_to_string.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <string>

#include "api/context.h"
#include "api/gateway.h"
#include "api/routes.h"
#include "engine/authorize_probe.h"
#include "engine/authorizer.h"
#include "engine/metrics.h"
#include "engine/pipeline.h"
#include "engine/projector_probe.h"
#include "engine/reservations.h"
#include "engine/secrets.h"
#include "http/json.h"
#include "http/probe.h"
#include "http/server_internal.h"
#include "projections/key_directory.h"
#include "schemas/envelope.h"
#include "schemas/envelope_builder.h"

using namespace keymeter;
namespace bhttp = boost::beast::http;

namespace {

constexpr char kOperatorToken[] = "fuzz-operator-token";
// The token of the seeded gateway (POST /v1/events; the corpus's events inputs carry it).
constexpr char kGatewayToken[] = "kmg_fuzzgatewaytoken";
constexpr char kAccount[] = "acctFuzz00000001";
constexpr char kAdminToken[] = "kmt_FuzzAdminToken0000000000000000000000000";
constexpr char kRootKey[] = "FuzzRoot0000000000000001";
constexpr char kChildKey[] = "FuzzKid10000000000000001";
constexpr char kPendingKey[] = "FuzzPend000000000000001x";
constexpr size_t kMaxRequestsPerInput = 4;

std::string g_dir;

void Require(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "http_fuzz: setup failed: %s\n", what);
    abort();
  }
}

// Everything RunServe() builds, minus the socket and the signal handling.
struct Engine {
  ApiOptions options;
  std::string data_dir;
  Reservations reservations;
  std::unique_ptr<Pipeline> pipeline;
  Metrics metrics;
  http::HttpProbe probe{metrics.registry()};
  AuthorizeProbe authorize_probe{metrics, AllAuthorizeReasons()};
  ProjectorProbe projector_probe{metrics};
  std::unique_ptr<Authorizer> authorizer;
  http::Router router;
  std::unique_ptr<ServeContext> context;
  http::ServerOptions server_options;

  void Publish(const std::string& envelope, const std::string& command_id) {
    Require(pipeline
                ->Publish({reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size()},
                          kAccount)
                .ok(),
            "publish");
    const std::optional<Status> outcome =
        pipeline->AwaitOutcome(command_id, std::chrono::seconds(10));
    Require(outcome && outcome->ok(), command_id.c_str());
  }

  void Seed() {
    const TimeUs now = NowUs();
    EnvelopeHeader h{.command_id = "fuzz-1", .time_us = now, .actor = fb::ActorKind::Operator,
                     .account_id = kAccount};
    Publish(BuildAccountCreated(h, "fuzz", Sha256(kAdminToken), false), h.command_id);
    h.actor = fb::ActorKind::AccountAdmin;
    h.command_id = "fuzz-2";
    Publish(BuildKeyIssued(h, std::string(kRootKey, 8), Sha256(kRootKey), "root", "",
                           fb::KeyStatus::Active),
            h.command_id);
    h.command_id = "fuzz-3";
    Publish(BuildKeyIssued(h, std::string(kChildKey, 8), Sha256(kChildKey), "kid@example.com",
                           std::string(kRootKey, 8), fb::KeyStatus::Active),
            h.command_id);
    h.command_id = "fuzz-4";
    Publish(BuildKeyIssued(h, std::string(kPendingKey, 8), Sha256(kPendingKey), "pending", "",
                           fb::KeyStatus::Pending),
            h.command_id);
    h.command_id = "fuzz-5";
    Publish(BuildQuotaSet(h, std::string(kRootKey, 8), 1000, 100000), h.command_id);
    EnvelopeHeader g{.command_id = "fuzz-6", .time_us = now, .actor = fb::ActorKind::Operator,
                     .account_id = std::string(kGatewaysAccount)};
    Publish(BuildGatewayCreated(g, "gwFuzz0001", "fuzz", Sha256(kGatewayToken)), g.command_id);
  }

  Engine() {
    data_dir = g_dir + "/db";
    options.operator_token_hash = Sha256(kOperatorToken);
    options.command_timeout = std::chrono::milliseconds(0);
    options.auth_failures_per_minute = 0;
    options.refused_commands_per_minute = 0;
    Result<std::unique_ptr<Pipeline>> opened = Pipeline::Open({.data_dir = data_dir});
    Require(opened.has_value(), "open the pipeline");
    pipeline = std::move(opened.value());
    pipeline->projector().set_request_listener(
        [this](KeyId root, KeyId key, const RequestIdBytes& id) {
          reservations.OnRequestApplied(root, key, id);
        });
    pipeline->projector().set_probe(&projector_probe);
    authorizer = std::make_unique<Authorizer>(pipeline->projector().state_mutex(),
                                              pipeline->directory(), pipeline->quota(),
                                              reservations, &authorize_probe);
    context.reset(new ServeContext{options, pipeline->store(), pipeline->directory(), router,
                                   metrics, *pipeline});
    context->readiness = [this] { return pipeline->Readiness(); };
    context->authorizer = authorizer.get();
    context->projector_probe = &projector_probe;
    RegisterRoutes(*context);
    server_options.body_limit = [](std::string_view method, std::string_view path,
                                   std::string_view content_type) {
      return GatewayBodyLimit(method, path, content_type)
          .value_or(http::ServerOptions().max_body_bytes);
    };
    pipeline->Start();
    Seed();
    pipeline->Stop();  // from here on the state is fixed
  }
};

Engine* g_engine = nullptr;

void RemoveDir() {
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
}

// What the server writes for `response` (SerializeHead + body) reads back, through Beast's
// response parser, as one whole response with the same status, body and keep-alive.
void CheckWire(const http::Response& response, bool keep, unsigned version) {
  std::string head;
  const std::string_view body = http::SerializeHead(response, keep, version, &head);
  const std::string wire = head + std::string(body);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  parser.eager(true);  // the body in the same put() as the header
  const int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  if (status == 204 || status == 304 || status < 200) parser.skip(true);
  boost::beast::error_code ec;
  const size_t used = parser.put(boost::asio::buffer(wire), ec);
  if (ec || !parser.is_done() || used != wire.size()) {
    fprintf(stderr, "http_fuzz: the response does not parse back: %s\n", ec.message().c_str());
    abort();
  }
  const auto& msg = parser.get();
  if (msg.result_int() != unsigned(status) || msg.body() != body || msg.keep_alive() != keep) {
    fprintf(stderr, "http_fuzz: the response parses back different\n");
    abort();
  }
}

// What Session::Fail writes: an error body, then the connection closes.
void Refuse(int status, Code code, std::string_view message) {
  http::Response response;
  http::SetError(response, status, code, message);
  CheckWire(response, false, 11);
}

// One request from `bytes`; false when the connection ends after it (error, close, or no
// complete request). `used` is how many bytes the request took.
bool ServeOne(std::string_view bytes, size_t* used) {
  Engine& engine = *g_engine;
  const http::ServerOptions& limits = engine.server_options;
  http::RequestParser::Message message;
  http::RequestParser parser(message);
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  boost::beast::error_code ec;
  size_t pos = 0;
  // The header block.
  while (!ec && !parser.is_header_done()) {
    const size_t n = parser.put(boost::asio::buffer(bytes.data() + pos, bytes.size() - pos), ec);
    pos += n;
    if (ec == bhttp::error::need_more) return false;  // the peer closed mid-header
    if (n == 0 && !ec && !parser.is_header_done()) return false;
  }
  if (ec == bhttp::error::header_limit) {
    Refuse(431, Code::kHeadersTooLarge, "headers");
    return false;
  }
  if (ec) {
    Refuse(400, Code::kBadRequest, ec.message());
    return false;
  }
  const auto& msg = parser.get();
  const size_t limit =
      http::BodyLimitOf(limits, msg.method(), msg.target(), msg[bhttp::field::content_type]);
  if (const auto length = parser.content_length(); length && *length > limit) {
    Refuse(413, Code::kBodyTooLarge, "body");
    return false;
  }
  parser.body_limit(limit);
  // The body.
  while (!ec && !parser.is_done() && pos < bytes.size()) {
    const size_t n = parser.put(boost::asio::buffer(bytes.data() + pos, bytes.size() - pos), ec);
    pos += n;
    if (ec == bhttp::error::need_more) ec = {};
    if (n == 0) break;
  }
  if (!ec && !parser.is_done()) parser.put_eof(ec);  // the peer closed: ends a to-EOF body
  if (ec == bhttp::error::body_limit) {
    Refuse(413, Code::kBodyTooLarge, "body");
    return false;
  }
  if (ec || !parser.is_done()) {
    if (ec && ec != bhttp::error::partial_message) Refuse(400, Code::kBadRequest, ec.message());
    return false;
  }
  *used = pos;

  http::Request request;
  if (const char* error = http::FillRequest(msg, "203.0.113.9", request)) {
    Refuse(400, Code::kBadRequest, error);
    return false;
  }
  http::Response response;
  try {
    engine.router.Dispatch(request, response);
  } catch (const std::exception& e) {
    // A handler that throws is answered 500 by the server; here it is a finding.
    fprintf(stderr, "http_fuzz: handler threw: %s\n", e.what());
    abort();
  }
  const bool keep = parser.keep_alive() && !response.close;
  CheckWire(response, keep, msg.version());
  return keep;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  char dir[] = "/tmp/keymeter-http-fuzz-XXXXXX";
  Require(mkdtemp(dir) != nullptr, "mkdtemp");
  g_dir = dir;
  std::atexit(RemoveDir);
  g_engine = new Engine();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (size_t i = 0; i < kMaxRequestsPerInput && !bytes.empty(); ++i) {
    size_t used = 0;
    if (!ServeOne(bytes, &used) || used == 0) break;
    bytes.remove_prefix(used);
  }
  return 0;
}
