// Allowed sources of a key: IPv4/IPv6 addresses and CIDR blocks, and domains.
//
// IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d/96+n), so one 16-byte compare serves both
// families. An empty IP list allows every address.
//
// Thread safety: values; const methods are safe to call concurrently.

#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keymeter {

using IpAddress = std::array<uint8_t, 16>;

// Parses "203.0.113.7" or "2001:db8::1"; nullopt when not an address.
std::optional<IpAddress> ParseIp(std::string_view text);

struct Cidr {
  IpAddress base{};
  uint8_t prefix = 128;  // in IPv6 bits

  // Parses an address ("10.0.0.1", "::1") or a block ("10.0.0.0/8", "2001:db8::/32").
  // nullopt on anything else, including host bits set beyond the prefix.
  static std::optional<Cidr> Parse(std::string_view text);
  bool Contains(const IpAddress& ip) const;
};

// True for a host name or a wildcard "*.example.com": labels of [a-z0-9-], 1..63 characters,
// not starting or ending with '-', at most 253 characters in all. A wildcard needs two labels
// after "*." ("*.com" would allow a whole top-level domain). Names are in their ASCII form
// (an IDN as "xn--..."), lowercase.
bool IsValidDomain(std::string_view text);

// `name` as domains are kept and compared: lowercase, without a trailing dot.
std::string NormalizeDomain(std::string_view name);

// The host a browser names in an Origin or Referer value ("https://App.Acme.test:8443/x" ->
// "app.acme.test"), or in a bare host ("app.acme.test."): lowercased, without scheme, port,
// path, user info or trailing dot; an IPv6 literal without its brackets. Empty when none.
std::string OriginHost(std::string_view value);

// True when `host` (as OriginHost gives it) is one of `domains` or under one of its wildcards:
// "*.acme.test" allows "app.acme.test" and "a.b.acme.test", not "acme.test" itself (list it too).
bool DomainAllowed(const std::vector<std::string>& domains, std::string_view host);

class AllowedSources {
 public:
  AllowedSources() = default;
  // Keeps the blocks that parse; callers validate first (the projector refuses the op with
  // INVALID-CIDR otherwise).
  explicit AllowedSources(const std::vector<std::string>& ips);

  // True when the list is empty or one block contains `ip`.
  bool AllowsIp(const IpAddress& ip) const;
  bool empty() const { return blocks_.empty(); }

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace keymeter
