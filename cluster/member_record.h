// MemberRecord: what one keymeter process says about itself on the compacted members topic
// (keymeter.members, key = member id): where it answers and which partitions of the events
// topic it owns. JSON, so that kcat and a human can read it:
//
//   {"member_id": "keymeter-3f…", "group": "keymeter", "url": "http://10.0.0.5:8080",
//    "owned": [0, 2], "standby": [1],
//    "lag": {"0": 12, "2": 0}, "assigned_at_ms": 1796428763065, "heartbeat_ms": 1796428770001,
//    "leaving": false, "settled": true}
//
// Thread safety: values and pure functions.

#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/status.h"

namespace keymeter {

// A member whose owned partitions are all at most this many messages behind is settled.
constexpr int64_t kSettledLag = 1000;

struct MemberRecord {
  std::string member_id;           // the group.instance.id: stable across restarts of one data dir
  std::string group;               // the consumer group: the cluster (one topic may serve several)
  std::string url;                 // advertised base URL, "http://host:port"
  std::vector<int32_t> owned;      // partitions of the events topic, ascending
  std::vector<int32_t> standby;     // partitions it tails as a standby, ascending
  std::map<int32_t, int64_t> lag;  // messages behind the log end, per owned or standby one
  int64_t assigned_at_ms = 0;      // wall time `owned` last changed
  int64_t heartbeat_ms = 0;        // wall time this record was written
  bool leaving = false;            // written once on a clean shutdown: owns nothing from now on
  // Every owned partition's lag is known and within kSettledLag: its directory is current.
  bool settled = false;
};

// Ids (and groups) of [A-Za-z0-9._-], 1..200 bytes; URLs "http://…" up to 300 bytes without quotes,
// backslashes or whitespace.
bool ValidMemberId(std::string_view id);
bool ValidAdvertisedUrl(std::string_view url);

// `record` must hold a valid id and URL (they are written into the JSON as they are).
std::string EncodeMemberRecord(const MemberRecord& record);
// INVALID-MEMBER-RECORD for anything but the shape above (a valid id and URL, partitions
// 0..65535, at most 65536 of them).
Result<MemberRecord> DecodeMemberRecord(std::string_view json);

}  // namespace keymeter
