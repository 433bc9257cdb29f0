// What the projector remembers per source partition, stored in column family "meta" in the same
// WriteBatch as the state it describes.
//
// Layout (column family "meta"):
//   "source"                    -> name of the source this store follows ("kafka/keymeter.events")
//   "instance"                  -> its group.instance.id in Kafka mode, made at random once
//   "part/" be32(partition)     -> be64(next_offset) be64(watermark_us) be64(retention_cutoff_us)
//   "acct/" account_id          -> be32(partition)   (the partition an account's events come from)
//
// `watermark_us` is the latest event time of an accepted request of the partition (the dedupe
// window and the request-log retention are measured from it); the engine's watermark is the
// minimum over partitions.
//
// Thread safety: values and free functions.

#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "schemas/ids.h"
#include "schemas/status.h"

namespace keymeter {

struct PartitionRecord {
  int64_t next_offset = 0;
  TimeUs watermark_us = 0;
  TimeUs retention_cutoff_us = 0;
};

std::string PartitionKey(int32_t partition);
std::string EncodePartition(const PartitionRecord& r);
std::optional<PartitionRecord> DecodePartition(std::string_view value);
// The partition of a "part/" key.
std::optional<int32_t> PartitionOfKey(std::string_view key);

std::string AccountPartitionKey(std::string_view account_id);
std::string EncodeBigEndian32(uint32_t v);
uint32_t DecodeBigEndian32(std::string_view in);

class Store;

// The minimum watermark over the partitions `store` holds (what billing's "complete" and the
// export measure closed months by: the figures read from the same store are at least this far);
// nullopt when no partition has one. Errors: IO-ERROR, CORRUPT-RECORD.
Result<std::optional<TimeUs>> StoreWatermark(const Store& store);

inline constexpr std::string_view kSourceKey = "source";
inline constexpr std::string_view kInstanceKey = "instance";  // Pipeline::instance_id()
inline constexpr std::string_view kPartitionPrefix = "part/";
inline constexpr std::string_view kAccountPrefix = "acct/";

}  // namespace keymeter
