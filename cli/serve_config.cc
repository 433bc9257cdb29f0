#include "cli/serve_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace keymeter {

namespace {

constexpr std::string_view kKnownKeys =
    "data_dir, listen, brokers, topic, group, dlq_topic, http_threads, read_only, operator_token, "
    "advertise, standby_replicas, session_timeout_ms, drop_partition_after, "
    "webhook_allow_private, webhook_ca_file, webhook_timeout_ms, webhook_retry_base_ms, "
    "webhook_retry_for_s, webhook_senders, alerts_topic";

std::string TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date or time";
  }
}

class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  Status Read(const toml::table& table, ServeConfigFile* out) {
    for (const auto& [key, node] : table) {
      const std::string_view name = key.str();
      const uint32_t line = node.source().begin.line;
      Status s;
      if (name == "data_dir") s = String(name, node, line, &out->data_dir);
      else if (name == "listen") s = String(name, node, line, &out->listen);
      else if (name == "brokers") s = String(name, node, line, &out->brokers);
      else if (name == "topic") s = String(name, node, line, &out->topic);
      else if (name == "group") s = String(name, node, line, &out->group);
      else if (name == "dlq_topic") s = String(name, node, line, &out->dlq_topic);
      else if (name == "advertise") s = String(name, node, line, &out->advertise);
      else if (name == "operator_token") s = String(name, node, line, &out->operator_token);
      else if (name == "read_only") s = Bool(name, node, line, &out->read_only);
      else if (name == "http_threads") s = Threads(name, node, line, &out->http_threads);
      else if (name == "standby_replicas") s = Integer(name, node, line, 0, 16, &out->standby_replicas);
      else if (name == "session_timeout_ms")
        s = Integer(name, node, line, 1000, 300000, &out->session_timeout_ms);
      else if (name == "drop_partition_after")
        s = Integer(name, node, line, 0, 604800, &out->drop_partition_after);
      else if (name == "webhook_allow_private")
        s = Bool(name, node, line, &out->webhook_allow_private);
      else if (name == "webhook_ca_file") s = String(name, node, line, &out->webhook_ca_file);
      else if (name == "alerts_topic") s = String(name, node, line, &out->alerts_topic);
      else if (name == "webhook_timeout_ms")
        s = Integer(name, node, line, 100, 120000, &out->webhook_timeout_ms);
      else if (name == "webhook_retry_base_ms")
        s = Integer(name, node, line, 10, 86400000, &out->webhook_retry_base_ms);
      else if (name == "webhook_retry_for_s")
        s = Integer(name, node, line, 1, 604800, &out->webhook_retry_for_s);
      else if (name == "webhook_senders")
        s = Integer(name, node, line, 0, 64, &out->webhook_senders);
      else {
        s = Status(Code::kConfigUnknownKey,
                   fmt::format("{}:{}: unknown key '{}'{}; the keys are: {}", source_, line, name,
                               node.is_table() ? " (a table)" : "", kKnownKeys));
      }
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

 private:
  Status WrongType(std::string_view name, const toml::node& node, uint32_t line,
                   std::string_view wanted) const {
    return Status(Code::kConfigWrongType, fmt::format("{}:{}: '{}' must be {}, not {}", source_,
                                                      line, name, wanted, TypeName(node.type())));
  }
  Status String(std::string_view name, const toml::node& node, uint32_t line,
                std::optional<std::string>* out) const {
    if (!node.is_string()) return WrongType(name, node, line, "a string");
    *out = std::string(*node.value<std::string_view>());
    return Status::Ok();
  }
  Status Bool(std::string_view name, const toml::node& node, uint32_t line,
              std::optional<bool>* out) const {
    if (!node.is_boolean()) return WrongType(name, node, line, "a boolean (true or false)");
    *out = *node.value<bool>();
    return Status::Ok();
  }
  Status Integer(std::string_view name, const toml::node& node, uint32_t line, int64_t min,
                 int64_t max, std::optional<int64_t>* out) const {
    if (!node.is_integer()) return WrongType(name, node, line, "an integer");
    const int64_t n = *node.value<int64_t>();
    if (n < min || n > max) {
      return Status(Code::kConfigOutOfRange, fmt::format("{}:{}: '{}' must be in {}..{}, not {}",
                                                         source_, line, name, min, max, n));
    }
    *out = n;
    return Status::Ok();
  }
  Status Threads(std::string_view name, const toml::node& node, uint32_t line,
                 std::optional<size_t>* out) const {
    std::optional<int64_t> n;
    if (Status s = Integer(name, node, line, 0, 1024, &n); !s.ok()) return s;
    *out = size_t(*n);
    return Status::Ok();
  }

  std::string_view source_;
};

}  // namespace

Result<ServeConfigFile> ParseServeConfig(std::string_view text, std::string_view source) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Status(Code::kConfigSyntax,
                  fmt::format("{}:{}: {}", source, e.source().begin.line, e.description()));
  }
  ServeConfigFile config;
  if (Status s = Reader(source).Read(table, &config); !s.ok()) return s;
  return config;
}

Result<ServeConfigFile> LoadServeConfig(const std::string& path) {
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  if (!std::filesystem::is_regular_file(path, ec) || !in) {
    return Status(Code::kConfigUnreadable,
                  "cannot read the config file " + path + " (no such file, or not a regular file)");
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status(Code::kConfigUnreadable, "cannot read the config file " + path);
  return ParseServeConfig(text.str(), path);
}

}  // namespace keymeter
