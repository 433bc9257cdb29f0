// The TOML config file of `keymeter serve --config FILE` (toml++). Every serve flag may be set
// there, under the flag's name with '_' for '-' (the KEYMETER_* variable's name, lower case):
//
//   data_dir       = "/var/lib/keymeter"    # string
//   listen         = "0.0.0.0:8080"         # string, HOST:PORT
//   brokers        = "k1:9092,k2:9092"      # string; absent or "" = the embedded log
//   topic          = "keymeter.events"      # string
//   group          = "keymeter"             # string
//   dlq_topic      = "keymeter.dlq"         # string
//   http_threads   = 4                      # integer, 0..1024 (0: one per hardware thread)
//   read_only      = false                  # boolean
//   operator_token = "..."                  # string; keep the file private (chmod 600)
//   advertise            = "http://10.0.0.5:8080"  # string (a cluster)
//   standby_replicas     = 1                # integer, 0..16
//   session_timeout_ms   = 3000             # integer, 1000..300000
//   drop_partition_after = 300              # integer seconds, 0..604800
//   webhook_allow_private = false           # boolean (cli/serve_webhooks.h has the webhook keys)
//   webhook_ca_file       = "/etc/ssl/extra.pem"  # string
//   webhook_timeout_ms    = 10000           # integer, 100..120000
//   webhook_retry_base_ms = 10000           # integer, 10..86400000
//   webhook_retry_for_s   = 86400           # integer seconds, 1..604800
//   webhook_senders       = 4               # integer, 0..64 (0: no deliveries, no alerts topic)
//   alerts_topic          = "keymeter.alerts"  # string; "" = none
//
// Precedence, per setting: command-line flag > KEYMETER_* environment > this file > default
// (cli/serve.cc applies it). The file is strict: a key not listed above, a value of the
// wrong type or out of range, or a nested table is an error naming the key and its line, so a
// typo never silently leaves a default in place.
//
// Thread safety: free functions, no shared state.

#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schemas/status.h"

namespace keymeter {

struct ServeConfigFile {
  std::optional<std::string> data_dir;
  std::optional<std::string> listen;
  std::optional<std::string> brokers;
  std::optional<std::string> topic;
  std::optional<std::string> group;
  std::optional<std::string> dlq_topic;
  std::optional<size_t> http_threads;
  std::optional<bool> read_only;
  std::optional<std::string> operator_token;
  std::optional<std::string> advertise;
  std::optional<int64_t> standby_replicas;
  std::optional<int64_t> session_timeout_ms;
  std::optional<int64_t> drop_partition_after;
  std::optional<bool> webhook_allow_private;
  std::optional<std::string> webhook_ca_file;
  std::optional<int64_t> webhook_timeout_ms;
  std::optional<int64_t> webhook_retry_base_ms;
  std::optional<int64_t> webhook_retry_for_s;
  std::optional<int64_t> webhook_senders;
  std::optional<std::string> alerts_topic;
};

// Parses `text`; `source` names it in messages (the file's path). Errors, each naming `source`,
// the line and the key: CONFIG-SYNTAX (not TOML), CONFIG-UNKNOWN-KEY, CONFIG-WRONG-TYPE,
// CONFIG-OUT-OF-RANGE.
Result<ServeConfigFile> ParseServeConfig(std::string_view text, std::string_view source);

// Reads and parses the file at `path`. Errors: CONFIG-UNREADABLE, and ParseServeConfig's.
Result<ServeConfigFile> LoadServeConfig(const std::string& path);

}  // namespace keymeter
