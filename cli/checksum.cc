#include "cli/checksum.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cli/common.h"

namespace keymeter {

CLI::App* AddChecksumCommand(CLI::App& app, ChecksumOptions* options) {
  CLI::App* checksum = app.add_subcommand(
      "checksum", "Print the SHA-256 of a store's projections; equal stores print the same line");
  checksum->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  checksum->add_option("--data-dir", options->data_dir, "Directory of the store; required")
      ->envname("KEYMETER_DATA_DIR");
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
  return 0;
}

}  // namespace keymeter
