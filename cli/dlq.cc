#include "cli/dlq.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <CLI/CLI.hpp>

#include "cli/common.h"
#include "http/client.h"
#include "schemas/civil_time.h"
#include "schemas/json_writer.h"

namespace keymeter {
namespace {

// `s` for a query string: unreserved characters as they are, every other byte %XX.
std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

class DlqCommand {
 public:
  explicit DlqCommand(const DlqOptions& o) : options_(o) {
    const auto at = http::ParseHostPort(o.url);  // checked when parsing the flags
    client_ = std::make_unique<http::Client>(at->first, at->second);
  }

  int Run() {
    if (options_.action == "list") return List();
    if (options_.action == "show") return Show();
    return Redrive();
  }

 private:
  // The answer's body when 200; else prints the error and returns nullopt.
  std::optional<std::string> Call(std::string_view method, const std::string& target,
                                  std::string_view body = "") {
    Result<http::ClientReply> reply = client_->Send(method, target, options_.operator_token, body);
    if (!reply) {
      cli::FailWith(fmt::format("cannot reach {}: {}", options_.url, reply.error().message()));
      return std::nullopt;
    }
    if (reply.value().status != 200) {
      cli::FailWith(fmt::format(
          "{} {} answered {}: {} {}", method, target, reply.value().status,
          http::JsonString(reply.value().body, "/error/code").value_or("?"),
          http::JsonString(reply.value().body, "/error/message").value_or(reply.value().body)));
      return std::nullopt;
    }
    return std::move(reply.value().body);
  }

  std::string Filters() const {
    std::string q;
    for (const auto& [name, value] : {std::pair{"reason", options_.reason},
                                      {"account", options_.account},
                                      {"from", options_.from},
                                      {"to", options_.to}}) {
      if (!value.empty()) q += fmt::format("&{}={}", name, QueryEscape(value));
    }
    return q;
  }

  int List() {
    std::string cursor;
    size_t listed = 0;
    simdjson::dom::parser parser;
    do {
      std::string target = "/v1/dead-letters?limit=" +
                           std::to_string(options_.limit ? options_.limit : 100) + Filters();
      if (!cursor.empty()) target += "&cursor=" + QueryEscape(cursor);
      std::optional<std::string> body = Call("GET", target);
      if (!body) return 1;
      simdjson::dom::element doc;
      simdjson::dom::array items;
      if (parser.parse(*body).get(doc) != simdjson::SUCCESS ||
          doc["dead_letters"].get_array().get(items) != simdjson::SUCCESS) {
        return cli::FailWith("the server's answer is not a list of dead letters");
      }
      for (simdjson::dom::element item : items) {
        fmt::print("{}\n", simdjson::minify(item));
        ++listed;
      }
      std::string_view next;
      cursor = doc["next_cursor"].get_string().get(next) == simdjson::SUCCESS ? std::string(next)
                                                                              : std::string();
    } while (options_.all && !cursor.empty());
    std::fflush(stdout);
    fmt::print(stderr, "keymeter dlq: {} dead letters{}\n", listed,
               cursor.empty() ? "" : " (more follow: --all lists every page)");
    return 0;
  }

  int Show() {
    std::optional<std::string> body = Call("GET", "/v1/dead-letters/" + QueryEscape(options_.ids[0]));
    if (!body) return 1;
    fmt::print("{}\n", *body);
    return 0;
  }

  int Redrive() {
    JsonWriter json;
    json.BeginObject();
    if (!options_.ids.empty()) {
      json.Key("ids").BeginArray();
      for (const std::string& id : options_.ids) json.String(id);
      json.EndArray();
    }
    for (const auto& [name, value] : {std::pair{"reason", options_.reason},
                                      {"account", options_.account},
                                      {"from", options_.from},
                                      {"to", options_.to}}) {
      if (!value.empty()) json.Key(name).String(value);
    }
    if (options_.limit != 0) json.Key("limit").Uint(options_.limit);
    std::optional<std::string> body =
        Call("POST", "/v1/dead-letters/redrive", json.EndObject().str());
    if (!body) return 1;
    fmt::print("{}\n", *body);
    std::fflush(stdout);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::array redriven, skipped;
    if (parser.parse(*body).get(doc) == simdjson::SUCCESS &&
        doc["redriven"].get_array().get(redriven) == simdjson::SUCCESS &&
        doc["skipped"].get_array().get(skipped) == simdjson::SUCCESS) {
      fmt::print(stderr, "keymeter dlq: {} published again, {} skipped\n", redriven.size(),
                 skipped.size());
    }
    return 0;
  }

  const DlqOptions& options_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace

CLI::App* AddDlqCommand(CLI::App& app, DlqOptions* options) {
  CLI::App* dlq = app.add_subcommand(
      "dlq", "List, show and re-drive dead letters through a running keymeter's operator API");
  dlq->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  dlq->add_option("action", options->action, "list, show or redrive")
      ->required()
      ->check(CLI::IsMember({"list", "show", "redrive"}));
  dlq->add_option("ids", options->ids, "Dead letter ids (<partition>-<offset>): show one, redrive some")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  dlq->add_option("--url", options->url, "keymeter's API, http://HOST:PORT")
      ->envname("KEYMETER_URL")
      ->capture_default_str();
  dlq->add_option("--operator-token", options->operator_token, "The operator's token")
      ->envname("KEYMETER_OPERATOR_TOKEN");
  dlq->add_option("--reason", options->reason, "Only this reason, e.g. FUTURE-TIMESTAMP");
  dlq->add_option("--account", options->account, "Only this account's");
  dlq->add_option("--from", options->from, "RFC 3339: dead-lettered at or after it");
  dlq->add_option("--to", options->to, "RFC 3339: dead-lettered before it");
  dlq->add_option("--limit", options->limit, "list: per page (1..1000); redrive: at most this many")
      ->check(CLI::Range(size_t{1}, size_t{1000}));
  dlq->add_flag("--all", options->all, "list: every page");
  dlq->footer(
      "Exit codes: 0 done, 1 the server refused or can't be reached, 2 usage.\nExample: keymeter "
      "dlq redrive --reason FUTURE-TIMESTAMP --url http://127.0.0.1:8080 --operator-token $T");
  dlq->callback([options] {
    if (options->operator_token.empty()) {
      throw CLI::RequiredError("--operator-token (or KEYMETER_OPERATOR_TOKEN)");
    }
    if (!http::ParseHostPort(options->url)) {
      throw CLI::ValidationError("--url", "wants http://HOST:PORT");
    }
    for (const std::string* t : {&options->from, &options->to}) {
      if (!t->empty() && !ParseRfc3339(*t)) {
        throw CLI::ValidationError(t == &options->from ? "--from" : "--to", "an RFC 3339 time");
      }
    }
    if (options->action == "show" && options->ids.size() != 1) {
      throw CLI::ValidationError("show", "takes one dead letter id");
    }
    if (options->action == "redrive" && options->ids.empty() && options->reason.empty() &&
        options->account.empty()) {
      throw CLI::RequiredError("redrive: ids, or --reason or --account to select by");
    }
  });
  return dlq;
}

int RunDlq(const DlqOptions& options) { return DlqCommand(options).Run(); }

}  // namespace keymeter
