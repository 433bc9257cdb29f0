// `keymeter checksum`: prints the digest of a store's projections (Store::Checksum, SHA-256 in
// hex) as one line on stdout. Two stores that applied the same log print the same line,
// whatever the source they read it from (docs/storage.md, "Determinism and the checksum").
//
//   keymeter checksum --data-dir DIR [--partitions]
//
// With --partitions, one line more per partition, "partition N DIGEST" (engine/
// partition_checksum.h): the digest of that partition's rows alone, so the partitions a
// cluster's members own can be compared with a single store that projected them all.
//
// The store is opened read-only, so it may be in use by `keymeter serve` (the digest is then of
// the state as of the moment it was opened).
//
// RunChecksum() returns the exit code: 0 with the line printed; 1 when DIR is missing, holds no
// store or cannot be read (a one-line message on stderr says which). Flag errors are CLI11's
// (main.cc turns them into exit code 2).
//
// Thread safety: RunChecksum() runs once per process, on the main thread.

#pragma once

#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace keymeter {

struct ChecksumOptions {
  std::string data_dir;
  bool partitions = false;
};

// Adds the `checksum` subcommand to `app`; parsing fills `options`.
CLI::App* AddChecksumCommand(CLI::App& app, ChecksumOptions* options);

int RunChecksum(const ChecksumOptions& options);

}  // namespace keymeter
