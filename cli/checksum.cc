#include "cli/checksum.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <map>

#include "cli/common.h"
#include "engine/partition_checksum.h"

namespace keymeter {

CLI::App* AddChecksumCommand(CLI::App& app, ChecksumOptions* options) {
  CLI::App* checksum = app.add_subcommand(
      "checksum", "Print the SHA-256 of a store's projections; equal stores print the same line");
  checksum->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  checksum->add_option("--data-dir", options->data_dir, "Directory of the store; required")
      ->envname("KEYMETER_DATA_DIR");
  checksum->add_flag("--partitions", options->partitions,
                     "Also print each partition's digest: \"partition N DIGEST\"");
  checksum->callback([options] {
    if (options->data_dir.empty()) throw CLI::RequiredError("--data-dir (or KEYMETER_DATA_DIR)");
  });
  return checksum;
}

int RunChecksum(const ChecksumOptions& options) {
  Result<std::unique_ptr<Store>> store = cli::OpenStoreForReading(options.data_dir);
  if (!store) return cli::FailWith(store.error().message());
  Result<std::string> digest = store.value()->Checksum();
  if (!digest) {
    return cli::FailWith(fmt::format("cannot read the store in {}: {}", options.data_dir,
                                     digest.error().ToString()));
  }
  fmt::print("{}\n", digest.value());
  if (options.partitions) {
    Result<std::map<int32_t, std::string>> parts = PartitionChecksums(*store.value());
    if (!parts) {
      return cli::FailWith(fmt::format("cannot read the store in {}: {}", options.data_dir,
                                       parts.error().ToString()));
    }
    for (const auto& [partition, part_digest] : parts.value()) {
      fmt::print("partition {} {}\n", partition, part_digest);
    }
  }
  return 0;
}

}  // namespace keymeter
