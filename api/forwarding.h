// Forwarding in a cluster (DESIGN §6, docs/scale.md): any member answers any request.
//
// WithForwarding() wraps the router's handler. For each request it finds the account the request
// is about — authorize's key, the Bearer credential (admin token, member key, gateway token:
// the "_gateways" account), or the operator's /v1/accounts/{id}… and /v1/gateways… paths — and
// its partition (Authenticator::Locate, Cluster::PartitionOf):
//   - this member owns the partition, or the request concerns no account (health, metrics,
//     the console, operator-wide reads): answered here;
//   - a live peer owns it: forwarded there and its answer relayed as it is;
//   - the credential is not in this member's directory (an account on another member's
//     partition): tried on each live peer in turn until one does not answer 421 NOT-OWNER;
//   - no live owner, or it can't be reached: authorize without reserve is answered from this
//     member's copy with "X-Keymeter-Standby: true"; everything else 503 OWNER-UNAVAILABLE with
//     Retry-After: 1.
// A request from a peer (Cluster::FromPeer) is answered here or refused 421 NOT-OWNER, never
// forwarded again; its client is the one the peer names. Every answer carries
// X-Keymeter-Served-By: the member id that answered.
//
// Thread safety: the handler is safe from any number of threads.

#pragma once

#include "api/context.h"
#include "http/server.h"

namespace keymeter {

// Runs `inner` alone while `context.cluster` is null.
http::Handler WithForwarding(ServeContext& context, http::Handler inner);

// For ServerOptions::offload: true when `request` may be forwarded (a network round trip that
// must not hold an I/O thread).
bool MayForward(ServeContext& context, const http::Request& request);

}  // namespace keymeter
