// population: writes loadgen's key population into a fresh embedded-mode store (lifecycle ops
// appended to the embedded log and applied by the projector, not one HTTP call per key) and a
// file of keys for a load generator, one per line, with mixed outcomes: 92% valid Zipf-popular
// keys, 5% a wrong secret, 3% malformed (as bench_authorize_inproc).
//
//   bench_population --data-dir NEW_DIR --keys-out FILE [--quick] [--lines N]
//
// `keymeter serve --data-dir NEW_DIR` then serves the population (bench/authorize_http.py).
// Prints one JSON line: keys, accounts, lines, seconds.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "bench/bench_util.h"

using namespace keymeter;
using namespace keymeter::bench;

int main(int argc, char** argv) {
  std::string dir, out;
  bool quick = false;
  size_t lines = 200'000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--data-dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--keys-out" && i + 1 < argc) out = argv[++i];
    else if (a == "--lines" && i + 1 < argc) lines = size_t(std::atoll(argv[++i]));
    else dir.clear(), i = argc;
  }
  if (dir.empty() || out.empty()) {
    std::fprintf(stderr,
                 "usage: bench_population --data-dir NEW_DIR --keys-out FILE [--quick] [--lines N]\n");
    return 2;
  }
  LoadgenOptions lo;
  if (quick) lo.accounts = 2'000, lo.keys = 20'000;
  Loadgen gen(lo);
  const auto start = Clock::now();
  BuildPopulation({.data_dir = dir}, gen).reset();
  const double seconds = Seconds(start);

  std::mt19937_64 rng(7);
  std::ofstream file(out);
  for (size_t i = 0; i < lines; ++i) {
    std::string key = gen.keys()[gen.PickKey()].key;
    const uint64_t r = rng() % 100;
    if (r < 5) key[20] = key[20] == 'A' ? 'B' : 'A';  // wrong secret
    else if (r < 8) key.resize(10);                    // malformed
    file << key << '\n';
  }
  file.close();
  if (!file) return std::fprintf(stderr, "cannot write %s\n", out.c_str()), 1;
  std::printf("{\"keys\":%d,\"accounts\":%d,\"lines\":%zu,\"seconds\":%.2f}\n", lo.keys,
              lo.accounts, lines, seconds);
  return 0;
}
