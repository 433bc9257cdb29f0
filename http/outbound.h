// Outbound webhook deliveries: one HTTP(S) POST to a URL a user registered, on one connection,
// with the guards such a URL needs (it may point anywhere, including inside our network).
//
// Contract:
// - ParseOutboundUrl() accepts only http:// and https:// URLs (scheme case-insensitive) of at
//   most 2048 characters, printable ASCII only (no whitespace, control or non-ASCII bytes), with
//   a host (a DNS name of letters, digits, '-', '.', '_', lowercased; an IPv4 literal; or an
//   IPv6 literal in brackets, without a zone), an optional port 1..65535 (an empty port is
//   refused), no userinfo (user@) and no fragment (#). Anything else is INVALID-FIELD, with a
//   message saying what is wrong that never repeats the URL.
// - PostOnce() resolves the host once (an IP literal is not resolved) and, unless
//   allow_private, refuses with ADDRESS-REFUSED, before any connection, when any resolved
//   address is not public (IsPublicAddress); it then connects only to those vetted addresses,
//   in order, so a second resolution (DNS rebinding) can't redirect it. It sends
//   "POST <target>" with `headers` (in order), then Host, "Content-Type: application/json",
//   "User-Agent: keymeter-webhooks/1", "Connection: close" and Content-Length, which replace
//   any of the same name in `headers`. It never follows a redirect and never retries.
// - https: the peer's chain is verified against the system's default CA paths plus ca_file,
//   the certificate must match the host (a DNS name, wildcards only as a whole left-most label;
//   or the IP literal), SNI carries a DNS host, TLS 1.2 or newer.
// - The reply is the first final (non-1xx) response whatever its status: a 3xx, 4xx or 5xx is
//   a reply, not an error. At most max_reply_bytes of its body are read and kept; the rest is
//   not read (not an error either).
// - timeout bounds the whole call: resolution, connect, TLS handshake, write and read.
// - Errors are values. INVALID-FIELD: a header name that is not an HTTP token, a header value
//   with CR, LF or NUL, a url whose host or target ParseOutboundUrl() would not give (checked
//   before anything else). ADDRESS-REFUSED: see above. HTTP-ERROR: a failed step, the message
//   naming it ("resolve: ...", "connect: ...", "tls handshake: ...", "write: ...", "read: ...",
//   "timeout: <step>", "ca_file: ..."); messages never contain the body or header values.
// - Nothing here logs (bodies carry signed payloads, headers their signatures).
//
// Thread safety: free functions with no shared state; PostOnce() may run on any number of
// threads at once (each call has its own io_context and TLS context). A resolution that outlives
// the timeout finishes on a detached thread of its own, whose result is dropped.

#pragma once

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/client.h"
#include "schemas/status.h"

namespace keymeter::http {

struct OutboundUrl {
  bool tls = false;    // https
  std::string host;    // a DNS name (lowercase) or an IP literal (IPv6 without brackets)
  uint16_t port = 0;   // 80/443 when the URL has none
  std::string target;  // path and query, "/" when empty
};

// The parts of `url`, or INVALID-FIELD (see the contract above).
Result<OutboundUrl> ParseOutboundUrl(std::string_view url);

struct OutboundOptions {
  std::chrono::milliseconds timeout{10000};  // resolve+connect+TLS+write+read together
  bool allow_private = false;  // allow loopback, private, link-local... addresses (tests, demos)
  std::string ca_file;         // an extra PEM CA bundle for https ("" = system defaults only)
  size_t max_reply_bytes = 16 * 1024;  // the reply's body is cut to this many bytes
};

struct OutboundReply {
  int status = 0;
  std::string body;  // at most max_reply_bytes
};

// One POST of `body` to `url` (see the contract above).
Result<OutboundReply> PostOnce(const OutboundUrl& url, std::string_view body,
                               const ClientHeaders& headers, const OutboundOptions& options);

// True when `address` is a public unicast address, false for:
//   IPv4 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.168/16, 198.18/15,
//        224/4 and everything above it (multicast, reserved, 255.255.255.255);
//   IPv6 ::, ::1, fc00::/7, fe80::/10, fec0::/10, ff00::/8, and the IPv6 forms that carry one
//        of those IPv4 addresses: v4-mapped ::ffff:0:0/96, v4-compatible ::/96, NAT64
//        64:ff9b::/96 and 6to4 2002::/16.
bool IsPublicAddress(const boost::asio::ip::address& address);

}  // namespace keymeter::http
