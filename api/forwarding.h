// Forwarding in a cluster (DESIGN §6, docs/scale.md): any member answers any request.
//
// WithForwarding() wraps the router's handler. For each request it finds the account the request
// is about — authorize's key, the Bearer credential (admin token, member key, gateway token:
// the "_gateways" account), n1ed's adminToken, or the operator's /v1/accounts/{id}… and
// /v1/gateways… paths — and
// its partition (Authenticator::Locate, Cluster::PartitionOf):
//   - this member owns the partition (for plain authorize: and has caught up with it, or no
//     live standby could answer instead), or the request concerns no account (health, metrics,
//     the console): answered here (GET /v1/billing/usage gathers every owner's part itself:
//     api/billing.cc);
//   - a live peer owns it: forwarded there and its answer relayed as it is;
//   - a member key this member's directory lacks: its account is asked of the others
//     (AccountOfKey) and the request goes to that account's owner; any other credential it
//     does not know (an admin or gateway token): tried on each live owner in turn until one does
//     not answer 421 NOT-OWNER;
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
#include "schemas/ids.h"

namespace keymeter {

// Runs `inner` alone while `context.cluster` is null.
http::Handler WithForwarding(ServeContext& context, http::Handler inner);

// The account of key `id`: this member's directory, else (in a cluster) the keys learnt from
// other members before, else each live peer's directory (GET /_cluster/keys/{id}, member-only).
// nullopt when no member knows it; `*uncertain` is then true when the key may yet exist (a
// partition without a settled owner, a member that did not answer). May wait on the network.
std::optional<std::string> AccountOfKey(ServeContext& context, const KeyId& id, bool* uncertain);

// The events-topic partition of `account_id`: the cluster's (Kafka's murmur2 over the topic's
// partitions), else the embedded log's.
int32_t PartitionOfAccount(ServeContext& context, std::string_view account_id);

// For ServerOptions::offload: true when `request` may be forwarded (a network round trip that
// must not hold an I/O thread).
bool MayForward(ServeContext& context, const http::Request& request);

}  // namespace keymeter
