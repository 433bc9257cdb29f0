#include "api/client_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <string_view>

namespace keymeter {

namespace {

bool IsV4Mapped(const IpAddress& ip) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(std::begin(kPrefix), std::end(kPrefix), ip.begin());
}

// `ip` as the limiter counts it: IPv4 as is, IPv6 as its /64.
std::string CountedAs(const IpAddress& ip) {
  char text[INET6_ADDRSTRLEN] = {};
  if (IsV4Mapped(ip)) {
    inet_ntop(AF_INET, ip.data() + 12, text, sizeof text);
    return text;
  }
  IpAddress prefix = ip;
  std::fill(prefix.begin() + 8, prefix.end(), uint8_t{0});
  inet_ntop(AF_INET6, prefix.data(), text, sizeof text);
  return std::string(text) + "/64";
}

// The client address a trusted proxy passed on, if it parses.
std::optional<IpAddress> ForwardedFor(const http::Request& request) {
  if (std::optional<std::string_view> real = request.Header("X-Real-IP")) {
    return ParseIp(http::TrimWhitespace(*real));
  }
  // The last address of the last X-Forwarded-For line: a proxy that appends a line of its own
  // (HAProxy's `option forwardfor`) leaves the client's line before it.
  std::optional<std::string_view> chain;
  for (const auto& [name, value] : request.headers) {
    if (http::EqualsIgnoreCase(name, "X-Forwarded-For")) chain = value;
  }
  if (!chain) return std::nullopt;
  const size_t comma = chain->rfind(',');
  return ParseIp(
      http::TrimWhitespace(comma == std::string_view::npos ? *chain : chain->substr(comma + 1)));
}

}  // namespace

std::string ClientAddress(const http::Request& request, std::span<const Cidr> trusted_proxies) {
  const std::optional<IpAddress> peer = ParseIp(request.remote_address);
  if (!peer) return std::string(request.remote_address);
  const bool trusted = std::any_of(trusted_proxies.begin(), trusted_proxies.end(),
                                   [&](const Cidr& c) { return c.Contains(*peer); });
  if (trusted) {
    if (std::optional<IpAddress> client = ForwardedFor(request)) return CountedAs(*client);
  }
  return CountedAs(*peer);
}

}  // namespace keymeter
