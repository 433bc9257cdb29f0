// Dropping a partition's projections from a store: a cluster member that neither owns nor stands
// by a partition any more gives its rows back (docs/scale.md, "Dropping a partition").
//
// DropPartitionRows(store, p) removes every projection row of partition p (as
// ForEachPartitionRow, engine/partition_checksum.h, attributes them), its "acct/" rows and its
// "part/" offset record: the store is then as if it had never followed p, and a later assignment
// of p replays it from the log's beginning. Crash-safe: the first write marks the drop
// ("drop/" be32(p)) and removes the offset record in one WriteBatch; the rows go in batches of
// kDropBatchRows; the last write removes the key records and "acct/" rows (what attributes rows
// to p) and the mark. A store opened with a mark left finishes that drop first
// (FinishPartitionDrops, called by Projector::Open), so a half-dropped partition is never read.
//
// When: Pipeline::DropUnfollowed (defined in partition_drop.cc) drops a partition its source
// has not read for drop_partition_after while another member holds it; the pipeline then makes
// a new source, since the group may have handed p back during the drop with the offset stored
// before it.
//
// Thread safety: writes through Store; the caller makes sure nothing applies events of p
// meanwhile (the pipeline's thread drops between batches, p followed by no consumer).

#pragma once

#include <cstdint>
#include <string_view>

#include "schemas/status.h"

namespace keymeter {

class Store;

inline constexpr std::string_view kDropPrefix = "drop/";
inline constexpr size_t kDropBatchRows = 10'000;

// Errors: IO-ERROR, CORRUPT-RECORD (the drop then finishes when the store is next opened).
Status DropPartitionRows(Store& store, int32_t partition);
// Finishes every drop a crash interrupted. Errors: as above.
Status FinishPartitionDrops(Store& store);

}  // namespace keymeter
