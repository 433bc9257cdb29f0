// Per-partition digests of a store's projections (`keymeter checksum --partitions`).
//
// Every projection row belongs to one account — accounts, audit and requests by their key's
// account prefix, keys and key/root usage through the key's record, account usage by its
// entity, gateways to the pseudo-account "_gateways" — and so to the partition its events come
// from (meta "acct/" rows, engine/partition_state.h). A partition's digest is SHA-256 over its
// rows, each as (column family name, key, value) with sizes, in store order. It depends on
// nothing but that partition's log: a store that projected partitions {0, 1} and one that
// projected {2, 3} give, between them, the digests of a store that projected all four (the
// property a cluster's members are checked by). Rows of no known partition go under -1.
//
// Thread safety: reads through RocksDB iterators; safe beside a writer (each column family is
// read at its own moment: stop writes first for a consistent answer).

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "schemas/status.h"

namespace keymeter {

class Store;

// Partition -> hex SHA-256. Errors: IO-ERROR, CORRUPT-RECORD.
Result<std::map<int32_t, std::string>> PartitionChecksums(const Store& store);

// Calls `fn(partition, cf, key, value)` for every projection row, column family by column
// family in store order, with the partition it belongs to as above (-1: none known).
// Errors: IO-ERROR, CORRUPT-RECORD.
using PartitionRowFn =
    std::function<void(int32_t partition, size_t cf, std::string_view key, std::string_view value)>;
Status ForEachPartitionRow(const Store& store, const PartitionRowFn& fn);

}  // namespace keymeter
