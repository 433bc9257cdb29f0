#include "cli/serve_webhooks.h"

namespace keymeter {

void AddWebhookOptions(CLI::App* serve, WebhookSenderOptions* options) {
  serve
      ->add_flag("--webhook-allow-private", options->allow_private,
                 "Deliver webhooks to loopback and private addresses too")
      ->envname("KEYMETER_WEBHOOK_ALLOW_PRIVATE");
  serve->add_option("--webhook-ca-file", options->ca_file, "Extra PEM CA bundle for webhooks")
      ->envname("KEYMETER_WEBHOOK_CA_FILE");
  serve
      ->add_option_function<int64_t>(
          "--webhook-timeout-ms",
          [options](int64_t ms) { options->timeout = std::chrono::milliseconds(ms); },
          "One webhook delivery attempt, at most (default 10000)")
      ->envname("KEYMETER_WEBHOOK_TIMEOUT_MS")
      ->check(CLI::Range(int64_t{100}, int64_t{120'000}));
  serve
      ->add_option_function<int64_t>(
          "--webhook-retry-base-ms",
          [options](int64_t ms) { options->retry_base = std::chrono::milliseconds(ms); },
          "Delay before a failed delivery's first retry; doubles, up to an hour (default 10000)")
      ->envname("KEYMETER_WEBHOOK_RETRY_BASE_MS")
      ->check(CLI::Range(int64_t{10}, int64_t{86'400'000}));
  serve
      ->add_option_function<int64_t>(
          "--webhook-retry-for-s",
          [options](int64_t s) { options->retry_for = std::chrono::seconds(s); },
          "Seconds after its alert a delivery is retried before it fails (default 86400)")
      ->envname("KEYMETER_WEBHOOK_RETRY_FOR_S")
      ->check(CLI::Range(int64_t{1}, int64_t{604'800}));
  serve
      ->add_option("--webhook-senders", options->senders,
                   "Webhook deliveries at once; 0: this process delivers and publishes no alerts")
      ->envname("KEYMETER_WEBHOOK_SENDERS")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  serve
      ->add_option("--alerts-topic", options->alerts_topic,
                   "Kafka mode: the topic alerts are published to (\"\": none)")
      ->envname("KEYMETER_ALERTS_TOPIC")
      ->capture_default_str();
}

void ApplyWebhookConfig(const CLI::App& serve, const ServeConfigFile& file,
                        WebhookSenderOptions* options) {
  auto unset = [&serve](const char* flag) { return serve.get_option(flag)->count() == 0; };
  if (file.webhook_allow_private && unset("--webhook-allow-private")) {
    options->allow_private = *file.webhook_allow_private;
  }
  if (file.webhook_ca_file && unset("--webhook-ca-file")) options->ca_file = *file.webhook_ca_file;
  if (file.webhook_timeout_ms && unset("--webhook-timeout-ms")) {
    options->timeout = std::chrono::milliseconds(*file.webhook_timeout_ms);
  }
  if (file.webhook_retry_base_ms && unset("--webhook-retry-base-ms")) {
    options->retry_base = std::chrono::milliseconds(*file.webhook_retry_base_ms);
  }
  if (file.webhook_retry_for_s && unset("--webhook-retry-for-s")) {
    options->retry_for = std::chrono::seconds(*file.webhook_retry_for_s);
  }
  if (file.alerts_topic && unset("--alerts-topic")) options->alerts_topic = *file.alerts_topic;
  if (file.webhook_senders && unset("--webhook-senders")) {
    options->senders = int(*file.webhook_senders);
  }
}

}  // namespace keymeter
