#include "http/outbound.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace keymeter::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxHostBytes = 253;
constexpr uint32_t kMaxReplyHeaderBytes = 16 * 1024;
constexpr int kMaxInformationalReplies = 5;  // 1xx answers skipped before the final one

Status BadUrl(std::string_view what) {
  return Status(Code::kInvalidField, "url " + std::string(what));
}

Status Failed(std::string_view step, std::string_view what) {
  return Status(Code::kHttpError, std::string(step) + ": " + std::string(what));
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
  return out;
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Printable ASCII: no whitespace, control or non-ASCII bytes.
bool IsPrintable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < '\x7f'; });
}

bool IsHostChar(char c) { return IsAlnum(c) || c == '-' || c == '.' || c == '_'; }

// RFC 9110 token: the characters a header name may have.
bool IsToken(std::string_view name) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return IsAlnum(c) || kSymbols.find(c) != std::string_view::npos;
  });
}

// 1..65535 in decimal digits only; 0 otherwise.
uint16_t ParsePort(std::string_view text) {
  unsigned port = 0;
  const char* end = text.data() + text.size();
  if (text.size() > 5 || std::from_chars(text.data(), end, port).ptr != end || port > 65535) {
    return 0;
  }
  return uint16_t(port);
}

bool IsPublicV4(uint32_t a) {
  struct Range {
    uint32_t base;
    int bits;
  };
  static constexpr Range kRefused[] = {
      {0x00000000, 8},  {0x0a000000, 8},  {0x64400000, 10}, {0x7f000000, 8},
      {0xa9fe0000, 16}, {0xac100000, 12}, {0xc0000000, 24}, {0xc0a80000, 16},
      {0xc6120000, 15}, {0xe0000000, 3},  // 224/4 and above, up to 255.255.255.255
  };
  return std::none_of(std::begin(kRefused), std::end(kRefused), [a](const Range& r) {
    return (a & (~uint32_t(0) << (32 - r.bits))) == r.base;
  });
}

uint32_t V4At(const asio::ip::address_v6::bytes_type& b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// One getaddrinfo() call, on a thread of its own so that the caller can give up at its deadline
// (getaddrinfo can't be cancelled); whoever finishes last frees it.
struct Lookup {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;  // guarded by mu, as are the two below
  beast::error_code error;
  std::vector<asio::ip::address> addresses;
};

void RunLookup(const std::shared_ptr<Lookup>& lookup, const std::string& host) {
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  // No AI_ADDRCONFIG (asio's default): it drops "localhost" on a host with loopback only.
  const tcp::resolver::results_type results = resolver.resolve(host, "", {}, ec);
  std::lock_guard<std::mutex> lock(lookup->mu);
  for (const auto& entry : results) lookup->addresses.push_back(entry.endpoint().address());
  lookup->error = ec;
  lookup->done = true;
  lookup->done_cv.notify_all();
}

// The addresses of `host` (itself when it is an IP literal), without duplicates, in the
// resolver's order; HTTP-ERROR when it has none or `deadline` passes first.
Result<std::vector<asio::ip::address>> Resolve(const std::string& host,
                                               Clock::time_point deadline) {
  beast::error_code ec;
  const asio::ip::address literal = asio::ip::make_address(host, ec);
  if (!ec) return std::vector<asio::ip::address>{literal};
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host] { RunLookup(lookup, host); }).detach();
  } catch (const std::system_error& e) {
    return Failed("resolve", e.what());
  }
  std::unique_lock<std::mutex> lock(lookup->mu);
  if (!lookup->done_cv.wait_until(lock, deadline, [&] { return lookup->done; })) {
    return Failed("timeout", "resolve");
  }
  if (lookup->error) return Failed("resolve", lookup->error.message());
  std::vector<asio::ip::address> out;
  for (const asio::ip::address& a : lookup->addresses) {
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  if (out.empty()) return Failed("resolve", "no address");
  return out;
}

// Runs one async operation at a time on a call's own io_context, each bounded by the call's
// deadline (the tcp_stream closes the socket when it passes).
class Steps {
 public:
  Steps(asio::io_context& ioc, beast::tcp_stream& tcp, Clock::time_point deadline)
      : ioc_(ioc), tcp_(tcp), deadline_(deadline) {}

  // Starts the operation with `start(handler)` and runs it to completion.
  template <class Start>
  beast::error_code Run(Start start) {
    if (Clock::now() >= deadline_) return beast::error::timeout;
    beast::error_code result = asio::error::would_block;
    tcp_.expires_at(deadline_);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    // Not run(): the stream's timer stays queued after the operation completes.
    ioc_.restart();
    while (result == asio::error::would_block && ioc_.run_one() > 0) {
    }
    return result;
  }

  Status Error(std::string_view step, const beast::error_code& ec) const {
    if (ec == beast::error::timeout || Clock::now() >= deadline_) return Failed("timeout", step);
    return Failed(step, ec.message());
  }

 private:
  asio::io_context& ioc_;
  beast::tcp_stream& tcp_;
  Clock::time_point deadline_;
};

bhttp::request<bhttp::string_body> MakeRequest(const OutboundUrl& url, std::string_view body,
                                               const ClientHeaders& headers) {
  bhttp::request<bhttp::string_body> request(bhttp::verb::post, url.target, 11);
  for (const auto& [name, value] : headers) request.insert(name, value);
  std::string host = url.host.find(':') == std::string::npos ? url.host : "[" + url.host + "]";
  if (url.port != (url.tls ? 443 : 80)) host += ":" + std::to_string(url.port);
  request.set(bhttp::field::host, host);
  request.set(bhttp::field::content_type, "application/json");
  request.set(bhttp::field::user_agent, "keymeter-webhooks/1");
  request.set(bhttp::field::connection, "close");
  request.erase(bhttp::field::content_length);
  request.erase(bhttp::field::transfer_encoding);
  request.body() = std::string(body);
  request.prepare_payload();
  return request;
}

// TLS 1.2+, the peer verified against the system's CAs and `ca_file`.
Status ConfigureContext(ssl::context& context, const std::string& ca_file) {
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  context.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  context.set_default_verify_paths(ec);
  if (ec) return Failed("tls setup", ec.message());
  if (!ca_file.empty()) {
    context.load_verify_file(ca_file, ec);
    if (ec) return Failed("ca_file", ec.message());
  }
  return Status::Ok();
}

// The certificate must name `host` (a DNS name, or an IP literal); SNI for a DNS name.
Status ConfigurePeer(SSL* ssl, std::string host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) return Failed("tls setup", host);
    return Status::Ok();
  }
  if (host.ends_with('.')) host.pop_back();
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1 ||
      SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return Failed("tls setup", "host name");
  }
  return Status::Ok();
}

// Reads the final answer on `stream`: its status and at most `max_bytes` of its body.
template <class Stream>
Result<OutboundReply> ReadReply(Steps& steps, Stream& stream, size_t max_bytes) {
  beast::flat_buffer buffer;
  for (int informational = 0; informational <= kMaxInformationalReplies; ++informational) {
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.header_limit(kMaxReplyHeaderBytes);
    // No limit (reading stops at max_bytes); not boost::none, which 1.74 takes as 0.
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    beast::error_code ec =
        steps.Run([&](auto handler) { bhttp::async_read_header(stream, buffer, parser, handler); });
    if (ec) return steps.Error("read", ec);
    OutboundReply reply{.status = int(parser.get().result_int())};
    if (reply.status >= 100 && reply.status < 200 && reply.status != 101) continue;
    std::array<char, 8192> chunk;
    while (!parser.is_done() && reply.body.size() < max_bytes) {
      const size_t room = std::min(chunk.size(), max_bytes - reply.body.size());
      parser.get().body().data = chunk.data();
      parser.get().body().size = room;
      ec = steps.Run([&](auto handler) { bhttp::async_read(stream, buffer, parser, handler); });
      reply.body.append(chunk.data(), room - parser.get().body().size);
      if (ec == bhttp::error::need_buffer) continue;
      if (ec == ssl::error::stream_truncated) parser.put_eof(ec);  // no TLS close_notify
      if (ec) return steps.Error("read", ec);
    }
    return reply;
  }
  return Failed("read", "too many 1xx answers");
}

// Connects `stream` to `endpoints` (TLS handshake included), writes `request` and reads the reply.
template <class Stream>
Result<OutboundReply> Exchange(Steps& steps, beast::tcp_stream& tcp, Stream& stream,
                               const std::vector<tcp::endpoint>& endpoints,
                               bhttp::request<bhttp::string_body>& request, size_t max_bytes) {
  beast::error_code ec = steps.Run([&](auto handler) { tcp.async_connect(endpoints, handler); });
  if (ec) return steps.Error("connect", ec);
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    ec = steps.Run([&](auto h) { stream.async_handshake(ssl::stream_base::client, h); });
    if (ec) {
      const long verify = SSL_get_verify_result(stream.native_handle());
      if (verify == X509_V_OK) return steps.Error("tls handshake", ec);
      return Failed("tls handshake", X509_verify_cert_error_string(verify));
    }
  }
  ec = steps.Run([&](auto handler) { bhttp::async_write(stream, request, handler); });
  if (ec) return steps.Error("write", ec);
  return ReadReply(steps, stream, max_bytes);
}

}  // namespace

Result<OutboundUrl> ParseOutboundUrl(std::string_view url) {
  if (url.size() > kMaxUrlBytes) return BadUrl("is longer than 2048 characters");
  if (!IsPrintable(url)) return BadUrl("has whitespace, control or non-ASCII characters");
  OutboundUrl out;
  const size_t separator = url.find("://");
  const std::string scheme =
      Lowercase(url.substr(0, separator == std::string_view::npos ? 0 : separator));
  if (scheme != "http" && scheme != "https") return BadUrl("scheme must be http or https");
  out.tls = scheme == "https";
  out.port = out.tls ? 443 : 80;
  const std::string_view rest = url.substr(separator + 3);
  if (rest.find('#') != std::string_view::npos) return BadUrl("has a fragment (#)");
  const size_t path = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, path);
  const std::string_view target = path == std::string_view::npos ? "" : rest.substr(path);
  if (authority.find('@') != std::string_view::npos) return BadUrl("has userinfo (user@)");

  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl("has an IPv6 host without its ']'");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return BadUrl("has text after its IPv6 host");
    if (!after.empty()) port = after.substr(1);
    beast::error_code ec;
    const asio::ip::address_v6 v6 = asio::ip::make_address_v6(std::string(host), ec);
    if (host.find('%') != std::string_view::npos || ec) return BadUrl("has a malformed IPv6 host");
    out.host = v6.to_string();
  } else {
    const size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty()) return BadUrl("has no host");
    if (host.size() > kMaxHostBytes || !std::all_of(host.begin(), host.end(), IsHostChar)) {
      return BadUrl("host is not a valid name (an IPv6 host needs brackets)");
    }
    out.host = Lowercase(host);
  }
  if (port) {
    out.port = ParsePort(*port);
    if (out.port == 0) return BadUrl("port must be 1..65535");
  }
  out.target = target.empty() ? "/" : target.starts_with('?') ? "/" + std::string(target)
                                                                 : std::string(target);
  return out;
}

bool IsPublicAddress(const asio::ip::address& address) {
  if (address.is_v4()) return IsPublicV4(address.to_v4().to_uint());
  const asio::ip::address_v6::bytes_type b = address.to_v6().to_bytes();
  const auto zeros = [&b](size_t from, size_t to) {
    return std::all_of(b.begin() + from, b.begin() + to, [](uint8_t x) { return x == 0; });
  };
  if (zeros(0, 10) && b[10] == 0xff && b[11] == 0xff) return IsPublicV4(V4At(b, 12));  // mapped
  if (zeros(0, 12)) return IsPublicV4(V4At(b, 12));  // v4-compatible, ::, ::1
  if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(4, 12)) {
    return IsPublicV4(V4At(b, 12));  // NAT64
  }
  if (b[0] == 0x20 && b[1] == 0x02) return IsPublicV4(V4At(b, 2));  // 6to4
  if ((b[0] & 0xfe) == 0xfc) return false;                         // unique local fc00::/7
  if (b[0] == 0xfe && (b[1] & 0x80) == 0x80) return false;         // fe80::/10, fec0::/10
  return b[0] != 0xff;                                             // multicast ff00::/8
}

Result<OutboundReply> PostOnce(const OutboundUrl& url, std::string_view body,
                               const ClientHeaders& headers, const OutboundOptions& options) {
  const Clock::time_point deadline = Clock::now() + options.timeout;
  if (url.host.empty() || !IsPrintable(url.host) || !IsPrintable(url.target) ||
      !url.target.starts_with('/')) {
    return BadUrl("is not one ParseOutboundUrl() returns");
  }
  for (const auto& [name, value] : headers) {
    if (!IsToken(name)) return Status(Code::kInvalidField, "a header name is not a token");
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return Status(Code::kInvalidField, "header " + name + " has CR, LF or NUL");
    }
  }
  Result<std::vector<asio::ip::address>> addresses = Resolve(url.host, deadline);
  if (!addresses) return addresses.error();
  std::vector<tcp::endpoint> endpoints;
  for (const asio::ip::address& address : addresses.value()) {
    if (!options.allow_private && !IsPublicAddress(address)) {
      return Status(Code::kAddressRefused, "the host has an address that is not public");
    }
    endpoints.emplace_back(address, url.port);
  }
  try {
    bhttp::request<bhttp::string_body> request = MakeRequest(url, body, headers);
    asio::io_context ioc;
    if (!url.tls) {
      beast::tcp_stream stream(ioc);
      Steps steps(ioc, stream, deadline);
      return Exchange(steps, stream, stream, endpoints, request, options.max_reply_bytes);
    }
    ssl::context context(ssl::context::tls_client);
    if (Status s = ConfigureContext(context, options.ca_file); !s.ok()) return s;
    ssl::stream<beast::tcp_stream> stream(ioc, context);
    if (Status s = ConfigurePeer(stream.native_handle(), url.host); !s.ok()) return s;
    Steps steps(ioc, stream.next_layer(), deadline);
    return Exchange(steps, stream.next_layer(), stream, endpoints, request,
                    options.max_reply_bytes);
  } catch (const std::exception& e) {  // allocation, or OpenSSL unable to make a context
    return Failed("internal", e.what());
  }
}

}  // namespace keymeter::http
