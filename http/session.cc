// One connection's request loop (see http_server_internal.h): read the header block, pick the
// body limit, read the body, call the handler, write, repeat while keep-alive holds.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <limits>

#include "http/json.h"
#include "http/server_internal.h"

namespace keymeter::http {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kLingerTimeout{2'000};
constexpr size_t kReadSize = 16 * 1024;  // at most this much per read of a header
// The read buffer holds at most a header (the parser refuses one over max_header_bytes) and
// one read beyond it (bhttp::async_read reads the body 64 KiB at a time). Bounded, so that a
// chunk-size line or a trailer that never ends fails (400) instead of growing it: the header
// and body limits count neither.
constexpr size_t kReadAhead = 64 * 1024 + kReadSize;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

Session::Session(Server::Impl& server, Socket socket, uint64_t id)
    : server_(server),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      id_(id),
      buffer_(server.options.max_header_bytes + kReadAhead) {
  beast::error_code ec;
  const tcp::endpoint peer = socket_.remote_endpoint(ec);
  if (!ec) remote_ = peer.address().to_string();
}

Session::~Session() { server_.Unregister(id_, remote_); }

void Session::Run() {
  net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    self->ExpiresAfter(self->server_.options.read_timeout);
    self->WatchDeadline();
    self->ReadHeader();
  });
}

void Session::WatchDeadline() {
  timer_.expires_at(deadline_);
  timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    std::shared_ptr<Session> self = weak.lock();
    if (ec || self == nullptr || self->state_ == State::kClosed) return;
    // A handler still running is the server being slow, not the peer: look again later.
    if (self->handling_) self->ExpiresAfter(self->server_.options.read_timeout);
    if (std::chrono::steady_clock::now() < self->deadline_) return self->WatchDeadline();
    self->Close();  // the pending read or write fails, and the session ends
  });
}

void Session::Refuse(std::string_view why) {
  net::dispatch(socket_.get_executor(), [self = shared_from_this(), why = std::string(why)] {
    self->ExpiresAfter(self->server_.options.write_timeout);
    self->WatchDeadline();  // bounds the refusal's write and linger
    self->Fail(503, Code::kTooManyConnections, why);
  });
}

void Session::PostStop(bool force) {
  net::post(socket_.get_executor(), [self = shared_from_this(), force] {
    const bool idle = self->state_ == State::kIdle && self->buffer_.size() == 0 &&
                      !(self->parser_ && self->parser_->got_some());
    if (force || idle) self->Close();
  });
}

void Session::ReadHeader() {
  if (server_.stopping.load(std::memory_order_relaxed)) return Close();
  parser_.emplace(message_);
  parser_->header_limit(static_cast<uint32_t>(
      std::min<size_t>(server_.options.max_header_bytes, std::numeric_limits<uint32_t>::max())));
  parser_->body_limit(std::numeric_limits<uint64_t>::max());  // set once the route is known
  state_ = State::kIdle;
  ExpiresAfter(server_.options.read_timeout);
  ContinueHeader();
}

// What bhttp::async_read_header does, without its composed operations: a pipelined request
// may already be in the buffer; else one read_some at a time until the header is whole (the
// parser refuses one longer than its header_limit).
void Session::ContinueHeader() {
  if (buffer_.size() > 0) {
    beast::error_code ec;
    buffer_.consume(parser_->put(buffer_.data(), ec));
    if (ec && ec != bhttp::error::need_more) {
      state_ = State::kBusy;
      return OnReadError(ec);
    }
    if (parser_->is_header_done()) return OnHeader();
  }
  const size_t room = beast::read_size(buffer_, kReadSize);
  if (room == 0) {  // not reached while the parser keeps its header limit
    state_ = State::kBusy;
    return OnReadError(bhttp::error::header_limit);
  }
  socket_.async_read_some(buffer_.prepare(room),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            if (ec) return self->Close();  // closed, reset, timed out, stopped
                            self->buffer_.commit(n);
                            self->ContinueHeader();
                          });
}

void Session::OnHeader() {
  state_ = State::kBusy;
  const auto& msg = parser_->get();
  const size_t limit =
      BodyLimitOf(server_.options, msg.method(), msg.target(), msg[bhttp::field::content_type]);
  if (const auto length = parser_->content_length(); length && *length > limit) {
    return Fail(413, Code::kBodyTooLarge, fmt::format("the body exceeds {} bytes", limit));
  }
  parser_->body_limit(limit);
  if (parser_->is_done()) return Handle();
  if (EqualsIgnoreCase(msg[bhttp::field::expect], "100-continue")) {
    ExpiresAfter(server_.options.write_timeout);
    net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code error, size_t) {
                       if (error) return self->Close();
                       self->ReadBody();
                     });
    return;
  }
  ReadBody();
}

void Session::ReadBody() {
  ExpiresAfter(server_.options.read_timeout);
  bhttp::async_read(socket_, buffer_, *parser_,
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return self->OnReadError(ec);
                      self->Handle();
                    });
}

void Session::OnReadError(beast::error_code ec) {
  static const beast::error_code kHttp = bhttp::make_error_code(bhttp::error::bad_target);
  if (ec == bhttp::error::header_limit) {
    return Fail(
        431, Code::kHeadersTooLarge,
        fmt::format("the request headers exceed {} bytes", server_.options.max_header_bytes));
  }
  if (ec == bhttp::error::body_limit) {
    return Fail(413, Code::kBodyTooLarge, "the body exceeds the limit of this request");
  }
  if (ec.category() == kHttp.category() && ec != bhttp::error::end_of_stream &&
      ec != bhttp::error::partial_message) {
    return Fail(400, Code::kBadRequest, "malformed request: " + ec.message());
  }
  Close();  // timeout, peer closed or reset, or canceled by Stop()
}

void Session::Handle() {
  const Clock::time_point start = Clock::now();
  const auto& msg = parser_->get();
  if (const char* error = FillRequest(msg, remote_, request_)) {
    return Fail(400, Code::kBadRequest, error);
  }
  handling_ = true;  // until Respond(): the deadline does not cut a request being handled
  ResetResponse();
  if (server_.pool && server_.options.offload && server_.options.offload(request_)) {
    if (server_.offloaded.fetch_add(1) >= server_.options.max_offloaded) {
      server_.offloaded.fetch_sub(1);
      SetError(response_, 503, Code::kServiceUnavailable,
               "too many requests are waiting; retry shortly");
      response_.SetHeader("Retry-After", "1");
      return Respond(start);
    }
    // The session reads nothing until Respond() writes: request_ and the parser stay put.
    server_.Offload([self = shared_from_this(), start, home = socket_.get_executor()] {
      // Once Stop() began, what is still queued answers 503 instead of running (a write
      // applied while nobody may be left to hear its outcome).
      if (self->server_.stopping.load(std::memory_order_relaxed)) {
        SetError(self->response_, 503, Code::kServiceUnavailable, "the server is stopping");
      } else {
        self->RunHandler();
      }
      self->server_.offloaded.fetch_sub(1);
      net::post(home, [self, start] { self->Respond(start); });
    });
    return;
  }
  RunHandler();
  Respond(start);
}

void Session::RunHandler() {
  try {
    server_.handler(request_, response_);
  } catch (const std::exception& e) {
    spdlog::error("http: handler for route \"{}\" threw: {}", response_.route, e.what());
    Internal();
  } catch (...) {
    spdlog::error("http: handler for route \"{}\" threw", response_.route);
    Internal();
  }
}

void Session::Respond(Clock::time_point start) {
  handling_ = false;
  const auto& msg = parser_->get();
  server_.Served(response_.route, response_.status, Clock::now() - start);
  const bool keep = parser_->keep_alive() && !response_.close &&
                    !server_.stopping.load(std::memory_order_relaxed);
  Write(keep, msg.version());
}

size_t BodyLimitOf(const ServerOptions& options, std::string_view method, std::string_view target,
                   std::string_view content_type) {
  return options.body_limit
             ? options.body_limit(method, target.substr(0, target.find('?')), content_type)
             : options.max_body_bytes;
}

const char* FillRequest(const RequestParser::Message& msg, std::string_view remote,
                        Request& r) {
  r.method = msg.method();
  r.target = msg.target();
  std::string_view rest = r.target;
  if (rest.empty() || rest.front() != '/') {  // absolute-form, RFC 7230 §5.3.2
    const size_t scheme = rest.find("://");
    if (scheme == std::string_view::npos || !(EqualsIgnoreCase(rest.substr(0, scheme), "http") ||
                                              EqualsIgnoreCase(rest.substr(0, scheme), "https"))) {
      return "the request target must be a path";
    }
    const size_t start = rest.find_first_of("/?", scheme + 3);
    rest = start == std::string_view::npos ? std::string_view() : rest.substr(start);
  }
  const size_t q = rest.find('?');
  r.path = rest.substr(0, q);
  if (r.path.empty()) r.path = "/";
  r.body = msg.body();
  r.remote_address = remote;
  r.headers.clear();
  for (size_t i = 0; i < msg.field_count(); ++i) r.headers.push_back(msg.field(i));
  r.query.clear();
  r.path_params.clear();
  if (q != std::string_view::npos && !ParseQuery(rest.substr(q + 1), &r.query)) {
    return "malformed percent-encoding in the query string";
  }
  return nullptr;
}

// Replaces whatever a failed handler left with a 500, keeping the route for metrics.
void Session::Internal() {
  const std::string_view route = response_.route;
  ResetResponse();
  response_.route = route;
  SetError(response_, 500, Code::kInternal, "internal error");
}

void Session::ResetResponse() {
  response_.status = 200;
  response_.content_type.assign("application/json");
  response_.body.clear();
  response_.ClearHeaders();
  response_.route = {};
  response_.close = false;
  response_.stream = nullptr;
}

// Answers with an error and closes (the rest of the request is not read).
void Session::Fail(int status, Code code, std::string_view message) {
  state_ = State::kBusy;
  handling_ = false;  // the deadline bounds the refusal's write and linger
  unread_ = true;
  ResetResponse();
  SetError(response_, status, code, message);
  server_.Served("", status, std::chrono::nanoseconds(0));
  Write(false, 11);
}

std::string_view SerializeHead(const Response& response, bool keep, unsigned version,
                               std::string* head) {
  const int s = response.status >= 100 && response.status <= 999 ? response.status : 500;
  const bool has_body = s >= 200 && s != 204 && s != 304;
  char number[24];
  auto append_number = [&](uint64_t n) {
    const auto end = std::to_chars(number, number + sizeof number, n).ptr;
    head->append(number, size_t(end - number));
  };
  auto append_field = [&](std::string_view name, std::string_view value) {
    head->append(name).append(": ").append(value).append("\r\n");
  };
  head->clear();
  head->append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(uint64_t(s));
  head->push_back(' ');
  const beast::string_view reason = bhttp::obsolete_reason(bhttp::int_to_status(unsigned(s)));
  head->append(reason.data(), reason.size()).append("\r\n");
  const bool streamed = has_body && s == 200 && response.stream;
  // No Content-Type without content (a 204, or a 401 of GET /v1/authorize with no body).
  if ((streamed || (has_body && !response.body.empty())) && !HasCrLf(response.content_type)) {
    append_field("Content-Type", response.content_type);
  }
  for (const auto& [name, value] : response.headers) {
    if (!name.empty() && !HasCrLf(name) && !HasCrLf(value)) append_field(name, value);
  }
  if (streamed) {
    // HTTP/1.0 has no chunks: the body ends with the connection (Write() closes it).
    if (version != 10) append_field("Transfer-Encoding", "chunked");
  } else if (has_body) {
    head->append("Content-Length: ");
    append_number(response.body.size());
    head->append("\r\n");
  }
  if (version == 10 && keep) append_field("Connection", "keep-alive");
  if (version != 10 && !keep) append_field("Connection", "close");
  head->append("\r\n");
  return has_body && !streamed ? std::string_view(response.body) : std::string_view();
}

void Session::Write(bool keep, unsigned version) {
  // The answer to a HEAD is its header alone (RFC 9110 §9.3.2): a client reads no body after
  // it, so one sent would pass for the start of the next answer.
  const bool head_only = message_.method() == "HEAD";
  const bool streamed = response_.status == 200 && response_.stream && !head_only;
  if (streamed && version == 10) keep = false;  // the body ends with the connection
  // response_ and head_ stay as they are until the write completes.
  std::string_view body = SerializeHead(response_, keep, version, &head_);
  if (head_only) body = {};
  const std::array<net::const_buffer, 2> buffers = {net::buffer(head_),
                                                    net::buffer(body.data(), body.size())};
  ExpiresAfter(server_.options.write_timeout);
  net::async_write(socket_, buffers,
                   [self = shared_from_this(), keep, streamed, version](beast::error_code ec,
                                                                       size_t) {
                     if (ec) return self->Close();
                     if (streamed) return self->StartStream(keep, version != 10);
                     if (keep) return self->ReadHeader();
                     // Linger only when the peer may still be sending what we did not read.
                     if (self->unread_ || self->buffer_.size() > 0) return self->Linger();
                     self->Close();
                   });
}

// Half-closes and reads until the peer closes (bounded), so that a client still sending the
// request we refused gets our response instead of a reset.
void Session::Linger() {
  state_ = State::kClosing;
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  ExpiresAfter(
      std::min<std::chrono::milliseconds>(server_.options.read_timeout, kLingerTimeout));
  WatchDeadline();  // an earlier deadline than the timer's: re-armed now, not at its next wake
  Drain();
}

void Session::Drain() {
  socket_.async_read_some(net::buffer(discard_),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->Close();
                            self->Drain();
                          });
}

void Session::Close() {
  state_ = State::kClosed;
  if (stream_) {  // a producer waiting for room stops
    {
      std::lock_guard lock(stream_->mu);
      stream_->closed = true;
    }
    stream_->room.notify_all();
  }
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);  // FIN after what was written
  socket_.close(ec);
  timer_.cancel();
}

}  // namespace keymeter::http
