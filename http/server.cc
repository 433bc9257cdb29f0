// Server: listening, accepting, the worker threads and Stop(); plus the Request accessors and
// URL decoding. One connection's request loop is in http_session.cc.
#include "http/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <charconv>

#include "http/server_internal.h"
#include "schemas/hex.h"
#include "schemas/thread_name.h"

namespace keymeter::http {

namespace {

Result<tcp::endpoint> ResolveListen(const std::string& listen) {
  const auto fail = [&](std::string_view why) {
    return Status(Code::kListenError, fmt::format("listen address \"{}\": {}", listen, why));
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return fail("expected HOST:PORT");
  std::string_view host = std::string_view(listen).substr(0, colon);
  const std::string_view port_text = std::string_view(listen).substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return fail("an IPv6 address goes in brackets, [::1]:8080");
  }
  uint16_t port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty()) {
    return fail("the port is not a number in 0..65535");
  }
  if (host.empty()) host = "0.0.0.0";
  beast::error_code error;
  const net::ip::address address = net::ip::make_address(std::string(host), error);
  if (!error) return tcp::endpoint(address, port);
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(std::string(host), "", error);
  if (error || results.empty()) return fail("cannot resolve the host: " + error.message());
  tcp::endpoint endpoint = results.begin()->endpoint();
  endpoint.port(port);
  return endpoint;
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  const std::string host = ep.address().to_string();
  return ep.address().is_v6() ? fmt::format("[{}]:{}", host, ep.port())
                              : fmt::format("{}:{}", host, ep.port());
}

}  // namespace

std::optional<std::string_view> Request::BearerToken() const {
  std::optional<std::string_view> header = Header("Authorization");
  if (!header) return std::nullopt;
  const std::string_view value = TrimWhitespace(*header);
  const size_t end = value.find_first_of(" \t");
  if (end == std::string_view::npos || !EqualsIgnoreCase(value.substr(0, end), "bearer")) {
    return std::nullopt;
  }
  const std::string_view token = TrimWhitespace(value.substr(end));
  if (token.empty()) return std::nullopt;
  return token;
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::QueryParam(std::string_view name) const {
  for (const auto& [n, v] : query) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view Request::PathParam(std::string_view name) const {
  for (const auto& [n, v] : path_params) {
    if (n == name) return v;
  }
  return {};
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(plus_is_space && c == '+' ? ' ' : c);
    }
  }
  return true;
}

bool ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string name, value;
    if (!PercentDecode(pair.substr(0, eq), true, &name)) return false;
    if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value)) {
      return false;
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return true;
}

Server::Impl::Impl(ServerOptions o, Handler h, size_t n)
    : options(std::move(o)), handler(std::move(h)), iocs([n] {
        std::vector<std::unique_ptr<net::io_context>> out;
        for (size_t i = 0; i < n; ++i) out.push_back(std::make_unique<net::io_context>(1));
        return out;
      }()),
      acceptor(*iocs[0]) {
  for (const auto& ioc : iocs) work.emplace_back(ioc->get_executor());
}

void Server::Impl::Run(net::io_context& ioc) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("http: worker thread caught: {}", e.what());
    }
  }
}

void Server::Impl::Accept() {
  accepting.emplace(*iocs[next_ioc++ % iocs.size()]);
  acceptor.async_accept(*accepting, beast::bind_front_handler(&Server::Impl::OnAccept, this));
}

void Server::Impl::OnAccept(beast::error_code ec) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {  // e.g. out of file descriptors: back off instead of spinning
    spdlog::warn("http: accept failed: {}", ec.message());
    retry.expires_after(std::chrono::milliseconds(50));
    retry.async_wait([this](beast::error_code error) {
      if (!error && !stopping.load()) Accept();
    });
    return;
  }
  Socket socket = std::move(*accepting);
  accepting.reset();
  if (stopping.load()) return;  // the socket closes here
  socket.set_option(tcp::no_delay(true), ec);
  const bool full = connections.load() >= options.max_connections;
  bool peer_full = false;
  std::shared_ptr<Session> session;
  {
    std::lock_guard<std::mutex> lock(mu);
    session = std::make_shared<Session>(*this, std::move(socket), next_id);
    sessions.emplace(next_id++, session);
    connections.fetch_add(1);
    peer_full = per_peer[session->remote()]++ >= options.max_connections_per_peer;
  }
  if (full) {
    session->Refuse("the server is at its connection limit");
  } else if (peer_full) {
    session->Refuse("this address holds as many connections as one peer may");
  } else {
    session->Run();
  }
  Accept();
}

void Server::Impl::Unregister(uint64_t id, const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu);
  sessions.erase(id);
  if (auto it = per_peer.find(peer); it != per_peer.end() && --it->second == 0) {
    per_peer.erase(it);
  }
  connections.fetch_sub(1);
  if (sessions.empty()) all_closed.notify_all();
}

std::vector<std::shared_ptr<Session>> Server::Impl::Snapshot() {
  std::vector<std::shared_ptr<Session>> out;
  std::lock_guard<std::mutex> lock(mu);
  out.reserve(sessions.size());
  for (auto& [id, weak] : sessions) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

bool Server::Impl::WaitClosed(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu);
  return all_closed.wait_for(lock, timeout, [this] { return sessions.empty(); });
}

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  Result<tcp::endpoint> endpoint = ResolveListen(options.listen);
  if (!endpoint) return endpoint.error();
  const size_t threads = options.threads != 0
                             ? options.threads
                             : std::max<size_t>(1, std::thread::hardware_concurrency());
  const std::string listen = options.listen;
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler), threads);
  beast::error_code ec;
  tcp::acceptor& acceptor = impl->acceptor;
  acceptor.open(endpoint.value().protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint.value(), ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  const tcp::endpoint bound = ec ? tcp::endpoint() : acceptor.local_endpoint(ec);
  if (ec) {
    return Status(Code::kListenError, fmt::format("cannot listen on {}: {}", listen, ec.message()));
  }
  impl->port = bound.port();
  impl->address = FormatEndpoint(bound);
  if (impl->options.offload) impl->pool.emplace(std::max<size_t>(1, impl->options.offload_threads));
  impl->Accept();
  for (size_t i = 0; i < threads; ++i) {
    impl->threads.emplace_back([p = impl.get(), i] {
      SetThreadName("km-http-" + std::to_string(i));
      p->Run(*p->iocs[i]);
    });
  }
  return std::make_unique<Server>(std::move(impl));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_) Stop();
}

void Server::Stop() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.stop_mu);
    if (s.stopped) return;
    s.stopped = true;
  }
  s.stopping.store(true);
  net::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.retry.cancel();
  });
  for (const auto& session : s.Snapshot()) session->PostStop(false);
  if (!s.WaitClosed(s.options.drain_timeout)) {
    for (const auto& session : s.Snapshot()) session->PostStop(true);
    s.WaitClosed(std::chrono::seconds(1));
  }
  s.work.clear();
  for (const auto& ioc : s.iocs) ioc->stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
  // A handler still running finishes (queued ones answer 503 without running: session.cc).
  if (s.pool) s.pool->join();
}

uint16_t Server::port() const { return impl_->port; }
const std::string& Server::address() const { return impl_->address; }
size_t Server::connection_count() const { return impl_->connections.load(); }

}  // namespace keymeter::http
