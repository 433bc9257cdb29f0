// GET /v1/cluster (operator): the members of the cluster as this member sees them, and the
// owner of each partition (docs/api.md).
#include <algorithm>
#include <map>

#include "api/internal.h"
#include "cluster/cluster.h"
#include "engine/pipeline.h"
#include "http/json.h"

namespace keymeter {
namespace {

void WriteMember(const MemberView& m, http::JsonWriter& json) {
  json.BeginObject();
  json.Key("member_id").String(m.record.member_id);
  json.Key("url").String(m.record.url);
  json.Key("self").Bool(m.self);
  json.Key("live").Bool(m.live);
  json.Key("leaving").Bool(m.record.leaving);
  json.Key("settled").Bool(m.record.settled);
  json.Key("heard_ms_ago").Int(m.heard_ms_ago);
  json.Key("owned").BeginArray();
  for (int32_t p : m.record.owned) json.Int(p);
  json.EndArray();
  json.Key("standby").BeginArray();
  for (int32_t p : m.record.standby) json.Int(p);
  json.EndArray();
  json.Key("lag").BeginObject();
  for (const auto& [p, n] : m.record.lag) json.Key(std::to_string(p)).Int(n);
  json.EndObject();
  json.EndObject();
}

void AnswerCluster(ApiContext& api, http::Response& response) {
  http::JsonWriter json;
  json.BeginObject();
  Cluster* cluster = api.serve.cluster;
  json.Key("clustered").Bool(cluster != nullptr);
  if (cluster == nullptr) {
    json.Key("owned").BeginArray();
    for (int32_t p : api.pipeline.OwnedPartitions()) json.Int(p);
    json.EndArray();
    json.EndObject();
    return http::SetJson(response, 200, json.Take());
  }
  const std::vector<MemberView> members = cluster->membership().Members();
  json.Key("member_id").String(cluster->member_id());
  json.Key("partitions").Int(cluster->membership().partitions());
  json.Key("settled").Bool(cluster->Settled());
  json.Key("members").BeginArray();
  for (const MemberView& m : members) WriteMember(m, json);
  json.EndArray();
  // Each partition's owner: this member for its own, else the live peer that claims it.
  json.Key("owners").BeginArray();
  for (int32_t p = 0; p < cluster->membership().partitions(); ++p) {
    json.BeginObject().Key("partition").Int(p).Key("owner");
    const MemberView* owner = nullptr;
    if (cluster->Owns(p)) {
      owner = &members.front();
    } else if (std::optional<MemberRecord> peer = cluster->membership().PeerOwning(p)) {
      for (const MemberView& m : members) {
        if (m.record.member_id == peer->member_id) owner = &m;
      }
    }
    if (owner == nullptr) {
      json.Null().Key("lag").Null();
    } else {
      json.String(owner->record.member_id).Key("lag");
      auto lag = owner->record.lag.find(p);
      lag == owner->record.lag.end() ? json.Null() : json.Int(lag->second);
    }
    json.Key("standbys").BeginArray();
    for (const MemberView& m : members) {
      if (m.live && std::binary_search(m.record.standby.begin(), m.record.standby.end(), p)) {
        json.BeginObject().Key("member_id").String(m.record.member_id).Key("lag");
        auto lag = m.record.lag.find(p);
        lag == m.record.lag.end() ? json.Null() : json.Int(lag->second);
        json.EndObject();
      }
    }
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  http::SetJson(response, 200, json.Take());
}

}  // namespace

void RegisterClusterRoutes(http::Router& router, const ApiPtr& api) {
  router.Add("GET", "/v1/cluster", [api](const http::Request& request, http::Response& response) {
    if (!Authenticate(*api, request, response, Role::kOperator)) return;
    AnswerCluster(*api, response);
  });
}

}  // namespace keymeter
