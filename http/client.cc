#include "http/client.h"

#include <simdjson.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

namespace keymeter::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Client::Impl {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;

  // Starts one async operation with `start(handler)` and runs it to completion or `timeout`.
  template <class Start>
  beast::error_code Run(std::chrono::milliseconds timeout, Start start) {
    beast::error_code result = asio::error::would_block;
    stream.expires_after(timeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    // Not run(): the stream's timer stays queued after the operation completes.
    ioc.restart();
    while (result == asio::error::would_block && ioc.run_one() > 0) {
    }
    return result;
  }

  void Drop() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    connected = false;
  }
};

namespace {

Status HttpError(std::string_view what, const beast::error_code& ec) {
  return Status(Code::kHttpError, std::string(what) + ": " + ec.message());
}

}  // namespace

Client::Client(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout), impl_(std::make_unique<Impl>()) {}

Client::~Client() {
  if (impl_->connected) impl_->Drop();
}

Result<ClientReply> Client::Send(std::string_view method, std::string_view target,
                                 std::string_view bearer, std::string_view body,
                                 std::string_view content_type, const ClientHeaders& headers) {
  const bool reused = impl_->connected;
  Result<ClientReply> reply = SendOnce(method, target, bearer, body, content_type, headers);
  if (!reply && reused) reply = SendOnce(method, target, bearer, body, content_type, headers);
  return reply;
}

Result<ClientReply> Client::SendOnce(std::string_view method, std::string_view target,
                                     std::string_view bearer, std::string_view body,
                                     std::string_view content_type,
                                     const ClientHeaders& headers) {
  Impl& s = *impl_;
  if (!s.connected) {
    tcp::resolver resolver(s.ioc);
    beast::error_code ec;
    const tcp::resolver::results_type endpoints =
        resolver.resolve(host_, std::to_string(port_), ec);
    if (ec) return HttpError("cannot resolve " + host_, ec);
    ec = s.Run(timeout_, [&](auto handler) { s.stream.async_connect(endpoints, handler); });
    if (ec) {
      s.Drop();
      return HttpError("cannot connect to " + host_ + ":" + std::to_string(port_), ec);
    }
    s.connected = true;
  }
  bhttp::request<bhttp::string_body> request;
  request.method_string(beast::string_view(method.data(), method.size()));
  request.target(beast::string_view(target.data(), target.size()));
  request.version(11);
  request.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
  request.keep_alive(true);
  if (!bearer.empty()) request.set(bhttp::field::authorization, "Bearer " + std::string(bearer));
  for (const auto& [name, value] : headers) request.set(name, value);
  if (!body.empty()) {
    request.set(bhttp::field::content_type,
                beast::string_view(content_type.data(), content_type.size()));
    request.body() = std::string(body);
  }
  request.prepare_payload();
  beast::error_code ec =
      s.Run(timeout_, [&](auto handler) { bhttp::async_write(s.stream, request, handler); });
  if (ec) {
    s.Drop();
    return HttpError("cannot send the request", ec);
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64u << 20);
  ec = s.Run(timeout_, [&](auto handler) { bhttp::async_read(s.stream, s.buffer, parser, handler); });
  if (ec) {
    s.Drop();
    return HttpError("cannot read the answer", ec);
  }
  bhttp::response<bhttp::string_body> response = parser.release();
  if (!response.keep_alive()) s.Drop();
  ClientReply reply{.status = int(response.result_int()), .body = std::move(response.body())};
  for (const auto& field : response) {
    reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return reply;
}

std::optional<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text) {
  if (text.starts_with("http://")) text.remove_prefix(7);
  if (text.ends_with("/")) text.remove_suffix(1);
  if (text.find('/') != std::string_view::npos) return std::nullopt;
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const auto [end, err] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (err != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return std::nullopt;
  }
  return std::make_pair(std::string(host), uint16_t(port));
}

std::optional<std::string> JsonString(std::string_view json, std::string_view pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view value;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root.at_pointer(pointer).get_string().get(value) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return std::string(value);
}

std::optional<int64_t> JsonInt(std::string_view json, std::string_view pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  int64_t value = 0;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root.at_pointer(pointer).get_int64().get(value) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return value;
}

}  // namespace keymeter::http
