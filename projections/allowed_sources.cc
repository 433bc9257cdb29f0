#include "projections/allowed_sources.h"

#include "schemas/text.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace keymeter {

std::optional<IpAddress> ParseIp(std::string_view text) {
  // inet_pton stops at a NUL: "10.0.0.1\0junk" is not an address.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find('\0') != text.npos) {
    return std::nullopt;
  }
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress ip{};
  in_addr v4;
  if (inet_pton(AF_INET, buf, &v4) == 1) {
    ip[10] = 0xff;
    ip[11] = 0xff;
    std::memcpy(&ip[12], &v4, 4);
    return ip;
  }
  if (inet_pton(AF_INET6, buf, ip.data()) == 1) return ip;
  return std::nullopt;
}

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  std::optional<IpAddress> ip = ParseIp(text.substr(0, slash));
  if (!ip) return std::nullopt;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  Cidr cidr;
  cidr.base = *ip;
  cidr.prefix = 128;
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    unsigned n = 0;
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
    if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size()) return std::nullopt;
    if (n > (v4 ? 32u : 128u)) return std::nullopt;
    cidr.prefix = uint8_t(v4 ? n + 96 : n);
  }
  // Host bits beyond the prefix must be zero: "10.0.0.1/8" is a typo, not a block.
  for (unsigned bit = cidr.prefix; bit < 128; ++bit) {
    if (cidr.base[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;
  }
  return cidr;
}

bool Cidr::Contains(const IpAddress& ip) const {
  unsigned full = prefix / 8;
  if (std::memcmp(ip.data(), base.data(), full) != 0) return false;
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = uint8_t(0xff << (8 - rest));
  return (ip[full] & mask) == (base[full] & mask);
}

bool IsValidDomain(std::string_view text) {
  if (text.starts_with("*.")) {
    text.remove_prefix(2);
    if (text.find('.') == std::string_view::npos) return false;  // "*.com"
  }
  if (text.empty() || text.size() > 253) return false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    std::string_view label = text.substr(start, dot == std::string_view::npos ? text.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

std::string NormalizeDomain(std::string_view name) {
  if (name.ends_with(".")) name.remove_suffix(1);
  return ToLowerAscii(name);
}

std::string OriginHost(std::string_view value) {
  value = TrimWhitespace(value);
  if (const size_t scheme = value.find("://"); scheme != std::string_view::npos) {
    value.remove_prefix(scheme + 3);
  }
  value = value.substr(0, value.find_first_of("/?#"));
  if (const size_t at = value.rfind('@'); at != std::string_view::npos) value.remove_prefix(at + 1);
  if (value.starts_with("[")) {  // [2001:db8::1]:443
    const size_t close = value.find(']');
    value = close == std::string_view::npos ? std::string_view() : value.substr(1, close - 1);
  } else {
    value = value.substr(0, value.find(':'));
  }
  return NormalizeDomain(value);
}

bool DomainAllowed(const std::vector<std::string>& domains, std::string_view host) {
  if (host.empty()) return false;
  for (const std::string& d : domains) {
    if (d == host) return true;
    if (d.starts_with("*.")) {
      const std::string_view suffix = std::string_view(d).substr(1);  // ".acme.test"
      if (host.size() > suffix.size() && host.ends_with(suffix)) return true;
    }
  }
  return false;
}

AllowedSources::AllowedSources(const std::vector<std::string>& ips) {
  for (const std::string& text : ips) {
    if (std::optional<Cidr> cidr = Cidr::Parse(text)) blocks_.push_back(*cidr);
  }
}

bool AllowedSources::AllowsIp(const IpAddress& ip) const {
  if (blocks_.empty()) return true;
  for (const Cidr& block : blocks_) {
    if (block.Contains(ip)) return true;
  }
  return false;
}

}  // namespace keymeter
