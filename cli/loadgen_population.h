// The population `keymeter loadgen` drives: the accounts and keys that `--setup` created through
// the API, saved with `--population FILE` so later runs reuse them without setup. Only ids are
// kept (account ids, key ids, parents) and the products to spread requests over: no admin token
// and no plain key, since request events name keys by id. File format (JSON, one object):
//
//   {"format":"keymeter-loadgen-population/1",
//    "products":["whois","dns"],
//    "accounts":["<account id>", ...],
//    "keys":[{"key_id":"<8 chars>","account_id":"<account id>","parent":"<key id or empty>"},...]}
//
// Roots come before their children. ZipfPicker gives the keys' popularity (a few keys make most
// requests), shuffled by seed so popularity is not tied to roots or children.
//
// Thread safety: values and free functions; a ZipfPicker is read-only after construction.

#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/status.h"

namespace keymeter {

struct PopulationKey {
  std::string key_id;
  std::string account_id;
  std::string parent;  // key id; empty for a root
};

struct Population {
  std::vector<std::string> products;
  std::vector<std::string> accounts;
  std::vector<PopulationKey> keys;
};

// The JSON text above.
std::string EncodePopulation(const Population& population);
// Errors: POPULATION-INVALID naming what is wrong (not JSON, another format, a key id not of 8
// characters, a key of an account not listed, no keys, no products).
Result<Population> DecodePopulation(std::string_view json);

// Writes the file (replacing it atomically: a temporary file, then rename). Errors: IO-ERROR.
Status SavePopulation(const std::string& path, const Population& population);
// Errors: POPULATION-UNREADABLE, or DecodePopulation's.
Result<Population> LoadPopulation(const std::string& path);

// Picks indexes in [0, n) with Zipf(s) popularity over an order shuffled by `seed`.
class ZipfPicker {
 public:
  ZipfPicker(size_t n, double s, uint64_t seed);
  size_t Pick(std::mt19937_64& rng) const;

 private:
  std::vector<double> cdf_;        // by popularity rank
  std::vector<size_t> rank_to_index_;
};

}  // namespace keymeter
