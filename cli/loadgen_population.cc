#include "cli/loadgen_population.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "http/json.h"

namespace keymeter {

namespace {

constexpr std::string_view kFormat = "keymeter-loadgen-population/1";

Status Invalid(std::string what) { return Status(Code::kPopulationInvalid, std::move(what)); }

}  // namespace

std::string EncodePopulation(const Population& population) {
  http::JsonWriter json;
  json.BeginObject().Key("format").String(kFormat);
  json.Key("products").BeginArray();
  for (const std::string& p : population.products) json.String(p);
  json.EndArray().Key("accounts").BeginArray();
  for (const std::string& a : population.accounts) json.String(a);
  json.EndArray().Key("keys").BeginArray();
  for (const PopulationKey& k : population.keys) {
    json.BeginObject()
        .Key("key_id")
        .String(k.key_id)
        .Key("account_id")
        .String(k.account_id)
        .Key("parent")
        .String(k.parent)
        .EndObject();
  }
  json.EndArray().EndObject();
  return json.Take() + "\n";
}

Result<Population> DecodePopulation(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return Invalid("not JSON");
  std::string_view format;
  if (root["format"].get_string().get(format) != simdjson::SUCCESS || format != kFormat) {
    return Invalid("not a loadgen population (\"format\" is not \"" + std::string(kFormat) + "\")");
  }
  Population out;
  auto strings = [&](const char* field, std::vector<std::string>* into) -> Status {
    simdjson::dom::array array;
    if (root[field].get_array().get(array) != simdjson::SUCCESS) {
      return Invalid(std::string("\"") + field + "\" is not an array");
    }
    for (simdjson::dom::element e : array) {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) {
        return Invalid(std::string("\"") + field + "\" holds a non-string");
      }
      into->emplace_back(s);
    }
    return Status::Ok();
  };
  if (Status s = strings("products", &out.products); !s.ok()) return s;
  if (Status s = strings("accounts", &out.accounts); !s.ok()) return s;
  if (out.products.empty()) return Invalid("no products");
  const std::set<std::string> accounts(out.accounts.begin(), out.accounts.end());
  simdjson::dom::array keys;
  if (root["keys"].get_array().get(keys) != simdjson::SUCCESS) return Invalid("\"keys\" is not an array");
  for (simdjson::dom::element e : keys) {
    std::string_view id, account, parent;
    if (e["key_id"].get_string().get(id) != simdjson::SUCCESS ||
        e["account_id"].get_string().get(account) != simdjson::SUCCESS ||
        e["parent"].get_string().get(parent) != simdjson::SUCCESS) {
      return Invalid("a key lacks key_id, account_id or parent");
    }
    if (id.size() != 8) return Invalid("key id '" + std::string(id) + "' is not 8 characters");
    if (accounts.count(std::string(account)) == 0) {
      return Invalid("key " + std::string(id) + " is of account '" + std::string(account) +
                     "', which is not in \"accounts\"");
    }
    out.keys.push_back({std::string(id), std::string(account), std::string(parent)});
  }
  if (out.keys.empty()) return Invalid("no keys");
  return out;
}

Status SavePopulation(const std::string& path, const Population& population) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << EncodePopulation(population);
    out.flush();
    if (!out) return Status(Code::kIoError, "cannot write " + temporary);
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec)
    return Status(Code::kIoError,
                  "cannot rename " + temporary + " to " + path + ": " + ec.message());
  return Status::Ok();
}

Result<Population> LoadPopulation(const std::string& path) {
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  if (!std::filesystem::is_regular_file(path, ec) || !in) {
    return Status(Code::kPopulationUnreadable,
                  "cannot read the population file " + path +
                      "; create one with keymeter loadgen --setup --population " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  Result<Population> population = DecodePopulation(text.str());
  if (!population) {
    return Status(population.error().code(), path + ": " + population.error().message());
  }
  return population;
}

ZipfPicker::ZipfPicker(size_t n, double s, uint64_t seed) : cdf_(n), rank_to_index_(n) {
  for (size_t i = 0; i < n; ++i) rank_to_index_[i] = i;
  std::mt19937_64 shuffle(seed);
  std::shuffle(rank_to_index_.begin(), rank_to_index_.end(), shuffle);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    sum += 1.0 / std::pow(double(i + 1), s);
    cdf_[i] = sum;
  }
  for (double& c : cdf_) c /= sum;
}

size_t ZipfPicker::Pick(std::mt19937_64& rng) const {
  const double u = double(rng() >> 11) * (1.0 / 9007199254740992.0);
  const size_t rank = size_t(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  return rank_to_index_[std::min(rank, rank_to_index_.size() - 1)];
}

}  // namespace keymeter
