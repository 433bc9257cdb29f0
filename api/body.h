// JsonBody: a request body that must be one JSON object, read field by field with the API's
// validation codes (all answered 400 by the handlers):
//   INVALID_JSON   the body is not JSON, or not an object, or deeper than 16 levels
//   INVALID_FIELD  a member has the wrong type or size, or is not one the endpoint takes
//                  (the message names it)
//   MISSING_FIELD  a required member is absent
// An empty body reads as {}. JSON null counts as absent. Parsing is simdjson's DOM.
//
// Thread safety: a JsonBody is used by one thread; distinct objects are independent.

#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/status.h"

namespace keymeter {

class JsonBody {
 public:
  static Result<JsonBody> Parse(std::string_view body);
  JsonBody(JsonBody&&) noexcept;
  JsonBody& operator=(JsonBody&&) noexcept;
  ~JsonBody();

  // INVALID_FIELD naming the first member not in `names`.
  Status AllowOnly(std::initializer_list<std::string_view> names) const;

  // A string of at most `max_bytes` bytes; nullopt when absent.
  Result<std::optional<std::string>> String(std::string_view name, size_t max_bytes) const;
  // A non-negative integer at most `max`; nullopt when absent.
  Result<std::optional<uint64_t>> Uint(std::string_view name, uint64_t max) const;
  // An integer within [-max, max]; nullopt when absent.
  Result<std::optional<int64_t>> Int(std::string_view name, int64_t max) const;
  Result<std::optional<bool>> Bool(std::string_view name) const;
  // An array of at most `max_items` strings of at most `max_bytes` each.
  Result<std::optional<std::vector<std::string>>> Strings(std::string_view name, size_t max_items,
                                                          size_t max_bytes) const;
  // An array of at most `max_items` integers, each 0..`max`.
  Result<std::optional<std::vector<uint64_t>>> Uints(std::string_view name, size_t max_items,
                                                     uint64_t max) const;
  // An object of at most `max_items` members whose values are strings of at most `max_bytes`.
  Result<std::optional<std::vector<std::pair<std::string, std::string>>>> StringMap(
      std::string_view name, size_t max_items, size_t max_bytes) const;

 private:
  struct Impl;
  explicit JsonBody(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keymeter
