// The webhook settings of `keymeter serve` (api/webhook_sender.h): flags, their KEYMETER_*
// variables and their keys in the --config file.
//
//   --webhook-allow-private   deliver to loopback and private addresses (tests, a demo on one
//                             machine); refused by default: an admin could otherwise aim
//                             keymeter at the services beside it
//   --webhook-ca-file FILE    an extra PEM CA bundle for https endpoints
//   --webhook-timeout-ms N    one delivery attempt, connect to answer (default 10000)
//   --webhook-retry-base-ms N the first retry's delay; each next one doubles, up to an hour
//                             (default 10000)
//   --webhook-retry-for-s N   how long after its alert a delivery is retried before it fails
//                             (default 86400)
//   --webhook-senders N       deliveries at once (default 4); 0: this process delivers nothing
//                             and publishes no alerts (a member kept for reads; tests that
//                             count the log's messages)
//   --alerts-topic NAME       Kafka mode: the topic alerts go to ("" for none; default
//                             keymeter.alerts)
//
// Thread safety: called while the command line is parsed.

#pragma once

#include <CLI/CLI.hpp>

#include "cli/serve.h"
#include "cli/serve_config.h"

namespace keymeter {

void AddWebhookOptions(CLI::App* serve, WebhookSenderOptions* options);

// Applies the file's webhook keys that no flag or variable gave.
void ApplyWebhookConfig(const CLI::App& serve, const ServeConfigFile& file,
                        WebhookSenderOptions* options);

}  // namespace keymeter
