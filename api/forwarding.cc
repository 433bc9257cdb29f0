#include "api/forwarding.h"

#include <simdjson.h>

#include <algorithm>
#include <shared_mutex>
#include <string>

#include "api/client_address.h"
#include "api/gateway_internal.h"
#include "api/idempotency.h"
#include "api/internal.h"
#include "cluster/cluster.h"
#include "consumers/embedded_log.h"
#include "engine/pipeline.h"
#include "http/client.h"
#include "http/form.h"
#include "http/json.h"
#include "projections/key_directory.h"
#include "schemas/envelope.h"
#include "schemas/ids.h"
#include "schemas/text.h"

namespace keymeter {
namespace {
constexpr std::string_view kServedBy = "X-Keymeter-Served-By";

// What a request is about, for routing.
struct Target {
  enum class Kind {
    kHere,      // no account: answered by whoever is asked
    kAccount,   // `account`'s partition owner answers
    kUnknown,   // a credential this member's directory does not know
    kAnyOwner,  // any member that owns a partition (POST /v1/accounts picks an id it owns)
  };
  Kind kind = Kind::kHere;
  std::string account;
  bool authorize = false;
  bool reserve = false;
  bool known_here = false;  // kAccount from this member's own directory (it has a copy)
  // Where a kAccount target lives (Placed): its partition, whether this member owns it, and
  // whether it has caught up with it (Cluster::Serves).
  int32_t partition = -1;
  bool owned = false;
  bool serving = false;
};

// The first path segment after `prefix` ("/v1/accounts/"), or "" when none.
std::string_view SegmentAfter(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return {};
  path.remove_prefix(prefix.size());
  return path.substr(0, path.find('/'));
}

constexpr std::string_view kKeysPath = "/_cluster/keys/";

// What `secret` names: a member key this member does not know is looked up in the cluster
// when `may_ask` (never on an I/O thread).
Target Locate(ServeContext& context, std::string_view secret, bool may_ask) {
  using Kind = Authenticator::Located::Kind;
  const Authenticator::Located located = context.api->auth.Locate(secret);
  if (located.kind == Kind::kAccount) {
    return {.kind = Target::Kind::kAccount, .account = located.account_id, .known_here = true};
  }
  if (located.kind != Kind::kUnknown) return {};
  if (secret.size() == kKeyLength && may_ask) {
    bool uncertain = false;
    if (std::optional<KeyId> id = KeyId::Parse(secret)) {
      if (std::optional<std::string> account = AccountOfKey(context, *id, &uncertain)) {
        return {.kind = Target::Kind::kAccount, .account = std::move(*account)};
      }
    }
  }
  return {.kind = Target::Kind::kUnknown};
}

Target AuthorizeTarget(ServeContext& context, const http::Request& request, bool may_ask) {
  std::string_view key;
  bool reserve = false;
  simdjson::dom::parser parser;  // POST only; small bodies
  if (request.method == "POST") {
    simdjson::dom::object body;
    if (parser.parse(request.body.data(), request.body.size()).get(body) != simdjson::SUCCESS ||
        body["key"].get_string().get(key) != simdjson::SUCCESS) {
      return {};  // malformed: answered here (400)
    }
    if (body["reserve"].get_bool().get(reserve) != simdjson::SUCCESS) reserve = false;
  } else {
    key = gateway_internal::KeyOf(request);
    const std::string_view r = TrimWhitespace(request.Header("X-Reserve").value_or(""));
    reserve = r == "true" || r == "1";
  }
  if (key.size() != kKeyLength) return {};  // MALFORMED_KEY, answered here
  Target t = Locate(context, key, may_ask);
  t.authorize = true;
  t.reserve = reserve;
  return t;
}

// What `request` is about; `may_ask`: other members may be asked (AccountOfKey).
Target TargetOf(ServeContext& context, const http::Request& request, bool may_ask = true) {
  const std::string_view path = request.path;
  if (path == "/v1/authorize") return AuthorizeTarget(context, request, may_ask);
  if (path == kN1edPath) {  // n1ed: the admin token is in the form body
    Result<FormFields> form = ParseForm(request.body);
    if (!form) return {};
    return Locate(context, FormValue(form.value(), "adminToken").value_or(""), may_ask);
  }
  if (!path.starts_with("/v1/") || path == "/v1/cluster") return {};
  const std::string_view bearer = request.BearerToken().value_or(std::string_view());
  if (context.api->auth.Locate(bearer).kind != Authenticator::Located::Kind::kOperator) {
    return Locate(context, bearer, may_ask);
  }
  if (std::string_view id = SegmentAfter(path, "/v1/accounts/"); !id.empty()) {
    return {.kind = Target::Kind::kAccount, .account = std::string(id)};
  }
  if (path.starts_with("/v1/gateways")) {
    return {.kind = Target::Kind::kAccount, .account = std::string(kGatewaysAccount)};
  }
  if (path == "/v1/accounts" && request.method == "POST") {
    // A keyed create names its account id up front: its owner answers it, and every retry.
    if (std::optional<std::string> id = KeyedAccountId(request, context.options.operator_token_hash)) {
      return {.kind = Target::Kind::kAccount, .account = std::move(*id)};
    }
    return {.kind = Target::Kind::kAnyOwner};
  }
  return {};
}

// `t` with its place in the cluster, worked out once per request: the predicates below read it.
Target Placed(Cluster& cluster, Target t) {
  if (t.kind != Target::Kind::kAccount) return t;
  t.partition = cluster.PartitionOf(t.account);
  t.owned = cluster.Owns(t.partition);
  t.serving = t.owned && cluster.Serves(t.partition);
  return t;
}

// True when this member answers `t` itself.
bool AnsweredHere(Cluster& cluster, const Target& t) {
  switch (t.kind) {
    case Target::Kind::kHere:
      return true;
    case Target::Kind::kAccount:
      return t.owned;
    case Target::Kind::kAnyOwner:
      return cluster.OwnsAny();
    case Target::Kind::kUnknown:
      return false;
  }
  return true;
}

// True when `t` is a plain authorize for a partition this member owns but is still catching up
// with (it just got it) while a live peer stands by it, caught up: its copy is the fresher.
bool PreferStandby(Cluster& cluster, const Target& t) {
  if (!t.authorize || t.reserve || t.kind != Target::Kind::kAccount) return false;
  if (!t.owned || t.serving) return false;
  for (const MemberRecord& peer : cluster.membership().LivePeers()) {
    if (!std::binary_search(peer.standby.begin(), peer.standby.end(), t.partition)) continue;
    // Only a standby that has caught up (one that just started tailing is behind this owner).
    auto lag = peer.lag.find(t.partition);
    if (lag != peer.lag.end() && lag->second <= kSettledLag) return true;
  }
  return false;
}

// True when `t` is an authorize with `reserve` for a partition this member owns but has not
// caught up with: its usage is behind the log, so it would admit beyond the quota. Only a
// caught-up owner holds reservations (docs/scale.md, the reserve bound).
bool ReserveWhileCatchingUp(const Target& t) {
  return t.authorize && t.reserve && t.kind == Target::Kind::kAccount && t.owned && !t.serving;
}

// True when this member tails the partition of `t`'s account as a standby and may answer a plain
// authorize from its copy.
bool StandsBy(Cluster& cluster, const Target& t) {
  if (!t.authorize || t.reserve || t.kind != Target::Kind::kAccount) return false;
  return cluster.StandsBy(t.partition);
}

// Marks `response` as answered from this member's standby copy of `t`'s partition, and how far
// behind the log that copy was at the last membership beat (-1: not known).
void MarkStandbyAnswer(Cluster& cluster, const Target& t, http::Response& response) {
  cluster.CountStandbyAnswer();
  response.SetHeader("X-Keymeter-Standby", "true");
  response.SetHeader("X-Keymeter-Standby-Lag",
                     std::to_string(cluster.LagOf(t.partition).value_or(-1)));
}

// Copies `reply` into `response` as it is (its Served-By included).
void Relay(http::ClientReply&& reply, http::Response& response) {
  response.status = reply.status;
  response.body = std::move(reply.body);
  response.route = "(forwarded)";
  for (auto& [name, value] : reply.headers) {
    if (EqualsIgnoreCase(name, "Content-Type")) {
      response.content_type = std::move(value);
    } else if (!EqualsIgnoreCase(name, "Content-Length") && !EqualsIgnoreCase(name, "Connection") &&
               !EqualsIgnoreCase(name, "Transfer-Encoding") &&
               !EqualsIgnoreCase(name, "Keep-Alive") && !EqualsIgnoreCase(name, "Date") &&
               !EqualsIgnoreCase(name, "Server")) {
      response.SetHeader(name, value);
    }
  }
}

// An error a member answers itself; on n1ed's path as n1ed answers (200, seed 001).
void AnswerError(const http::Request& request, http::Response& response, int status,
                 const Status& error) {
  if (request.path == kN1edPath) return AnswerN1ed(response, error.code());
  SetStatusError(response, status, error);
}
constexpr std::string_view kCatchingUp = "the owner of this account is catching up with its log";
void OwnerUnavailable(const http::Request& request, http::Response& response,
                      std::string_view why = kCatchingUp) {
  AnswerError(request, response, 503, Status(Code::kOwnerUnavailable, std::string(why)));
  response.SetHeader("Retry-After", "1");
}

// GET /_cluster/keys/{id} from a member: the key's account as this member's directory knows it
// (any status: a key never changes account).
void AnswerKeyLookup(ServeContext& context, std::string_view path, http::Response& response) {
  const std::optional<KeyId> id = KeyId::Parse(path.substr(kKeysPath.size()));
  std::string account;
  if (id) {
    std::shared_lock lock(context.pipeline.projector().state_mutex());
    if (const KeyState* key = context.directory.FindKey(*id)) account = key->account_id;
  }
  if (account.empty()) return http::SetError(response, 404, Code::kNotFound, "no such key here");
  http::JsonWriter json;
  json.BeginObject().Key("account_id").String(account).EndObject();
  http::SetJson(response, 200, json.Take());
}

}  // namespace

std::optional<std::string> AccountOfKey(ServeContext& context, const KeyId& id, bool* uncertain) {
  *uncertain = false;
  {
    std::shared_lock lock(context.pipeline.projector().state_mutex());
    if (const KeyState* key = context.directory.FindKey(id)) return key->account_id;
  }
  Cluster* cluster = context.cluster.load(std::memory_order_acquire);
  if (cluster == nullptr || !cluster->forwarding()) return std::nullopt;
  const std::string key_id = id.str();
  if (std::optional<std::string> known = cluster->CachedAccountOfKey(key_id)) return known;
  bool unanswered = false;
  for (const MemberRecord& peer : cluster->membership().LivePeers()) {
    Result<http::ClientReply> reply = cluster->Ask(peer.url, std::string(kKeysPath) + key_id);
    if (!reply || (reply.value().status != 200 && reply.value().status != 404)) {
      unanswered = true;
      continue;
    }
    if (reply.value().status != 200) continue;
    std::optional<std::string> account = http::JsonString(reply.value().body, "/account_id");
    if (!account || account->empty()) continue;
    cluster->RememberAccountOfKey(key_id, *account);
    return account;
  }
  *uncertain = unanswered || !cluster->Settled();
  return std::nullopt;
}

int32_t PartitionOfAccount(ServeContext& context, std::string_view account_id) {
  if (Cluster* cluster = context.cluster.load(std::memory_order_acquire)) {
    return cluster->PartitionOf(account_id);
  }
  return KafkaPartitionFor(account_id, context.pipeline.options().embedded_partitions);
}

bool MayForward(ServeContext& context, const http::Request& request) {
  Cluster* cluster = context.cluster.load(std::memory_order_acquire);
  if (cluster == nullptr || cluster->FromPeer(request)) return false;
  const Target t = Placed(*cluster, TargetOf(context, request, /*may_ask=*/false));
  return !AnsweredHere(*cluster, t) || PreferStandby(*cluster, t);
}

http::Handler WithForwarding(ServeContext& context, http::Handler inner) {
  return [&context, inner = std::move(inner)](const http::Request& request,
                                              http::Response& response) {
    Cluster* joined = context.cluster.load(std::memory_order_acquire);
    if (joined == nullptr) return inner(request, response);
    Cluster& cluster = *joined;
    const std::string& self = cluster.member_id();
    if (cluster.FromPeer(request)) {
      if (request.path.starts_with(kKeysPath)) {
        AnswerKeyLookup(context, request.path, response);
        response.SetHeader(kServedBy, self);
        return;
      }
      http::Request local = request;
      local.remote_address = request.Header("X-Keymeter-Client").value_or(request.remote_address);
      const Target t = Placed(cluster, TargetOf(context, local, /*may_ask=*/false));
      if (ReserveWhileCatchingUp(t)) {
        OwnerUnavailable(request, response);
      } else if (AnsweredHere(cluster, t) && !PreferStandby(cluster, t)) {
        inner(local, response);
      } else if (Cluster::StandbyRead(request) && (StandsBy(cluster, t) || t.known_here)) {
        inner(local, response);
        MarkStandbyAnswer(cluster, t, response);
      } else {
        cluster.CountNotOwner();
        SetStatusError(response, 421,
                       Status(Code::kNotOwner, "member " + self + " does not own this account"));
      }
      response.SetHeader(kServedBy, self);
      return;
    }
    const Target t = Placed(cluster, TargetOf(context, request));
    if (!AnsweredHere(cluster, t) && !t.authorize) {
      // Failed credentials are counted by the member a client talks to: one it blocks is not
      // let through to another member (so the limit is per member, docs/scale.md).
      const std::string client = ClientAddress(request, context.options.trusted_proxies);
      if (const int64_t wait = context.api->auth.BlockedFor(client); wait > 0) {
        AnswerError(request, response, 429,
                    Status(Code::kTooManyAttempts, "too many failed credentials; retry later"));
        response.SetHeader("Retry-After", std::to_string(wait));
        response.SetHeader(kServedBy, self);
        return;
      }
    }
    const bool owned = AnsweredHere(cluster, t);
    if (ReserveWhileCatchingUp(t)) {
      OwnerUnavailable(request, response);
      response.SetHeader(kServedBy, self);
      return;
    }
    if ((owned && !PreferStandby(cluster, t)) || !cluster.forwarding()) {
      inner(request, response);
      response.SetHeader(kServedBy, self);
      return;
    }
    std::vector<MemberRecord> candidates;
    if (owned) {
      // This member owns it but is catching up: a standby answers below, else this member.
    } else if (t.kind == Target::Kind::kAccount) {
      if (std::optional<MemberRecord> owner =
              cluster.membership().PeerOwning(t.partition)) {
        candidates.push_back(std::move(*owner));
      }
    } else {
      for (MemberRecord& peer : cluster.membership().LivePeers()) {
        if (!peer.owned.empty()) candidates.push_back(std::move(peer));
      }
    }
    bool reached = false;
    bool unreachable = false;
    for (const MemberRecord& peer : candidates) {
      Result<http::ClientReply> reply = cluster.Forward(peer.url, request, request.remote_address);
      if (!reply) {
        unreachable = true;
        continue;
      }
      reached = true;
      if (reply.value().status == 421) continue;  // not (or no longer) the owner
      Relay(std::move(reply).value(), response);
      return;
    }
    if ((t.kind == Target::Kind::kUnknown && !unreachable &&
         (cluster.Settled() || cluster.OwnsAll())) ||
        t.kind == Target::Kind::kAnyOwner) {
      // Every owner said it is not theirs (or this member owns every partition, as one process
      // on its own does): this member's answer (UNKNOWN_KEY, 401...) is everyone's. With an
      // owner unreachable, a partition without one (a member died, a rebalance) or an owner
      // still catching up, the credential may be on it: 503 below.
      inner(request, response);
      response.SetHeader(kServedBy, self);
      return;
    }
    if (t.authorize && !t.reserve && t.kind == Target::Kind::kAccount) {
      // The owner is away: a standby's copy answers, this member's own first.
      if (!StandsBy(cluster, t)) {
        for (const MemberRecord& peer : cluster.membership().LivePeers()) {
          if (!std::binary_search(peer.standby.begin(), peer.standby.end(), t.partition)) {
            continue;
          }
          Result<http::ClientReply> reply =
              cluster.Forward(peer.url, request, request.remote_address, /*standby_read=*/true);
          if (reply && reply.value().status != 421) return Relay(std::move(reply).value(), response);
        }
      }
      if (owned) {  // no standby answered: the owner's own answer, caught up or not
        inner(request, response);
        response.SetHeader(kServedBy, self);
        return;
      }
      if (t.known_here) {  // this member's standby copy, or an older one of its own
        inner(request, response);
        response.SetHeader(kServedBy, self);
        MarkStandbyAnswer(cluster, t, response);
        return;
      }
    }
    OwnerUnavailable(request, response, reached ? "the account's owner moved; try again"
                                       : "no member that owns the account answers");
  };
}

}  // namespace keymeter
