#include "api/body.h"

#include <simdjson.h>

#include <algorithm>

namespace keymeter {

namespace dom = simdjson::dom;

namespace {

constexpr size_t kMaxDepth = 16;

Status Invalid(std::string_view name, std::string_view what) {
  return Status(Code::kInvalidField, std::string(name) + ": " + std::string(what));
}

}  // namespace

struct JsonBody::Impl {
  dom::parser parser;
  dom::object object;
};

JsonBody::JsonBody(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonBody::JsonBody(JsonBody&&) noexcept = default;
JsonBody& JsonBody::operator=(JsonBody&&) noexcept = default;
JsonBody::~JsonBody() = default;

Result<JsonBody> JsonBody::Parse(std::string_view body) {
  auto impl = std::make_unique<Impl>();
  const std::string_view text =
      body.find_first_not_of(" \t\r\n") == std::string_view::npos ? std::string_view("{}") : body;
  if (impl->parser.allocate(std::max<size_t>(text.size(), 64), kMaxDepth) != simdjson::SUCCESS) {
    return Status(Code::kInvalidJson, "the body is too large");
  }
  // parse(const char*, len, realloc_if_needed = true) copies into a padded buffer.
  dom::element root;
  simdjson::error_code error = impl->parser.parse(text.data(), text.size(), true).get(root);
  if (error != simdjson::SUCCESS) {
    return Status(Code::kInvalidJson,
                  std::string("the body is not valid JSON: ") + simdjson::error_message(error));
  }
  if (root.get_object().get(impl->object) != simdjson::SUCCESS) {
    return Status(Code::kInvalidJson, "the body must be a JSON object");
  }
  return JsonBody(std::move(impl));
}

Status JsonBody::AllowOnly(std::initializer_list<std::string_view> names) const {
  for (dom::key_value_pair field : impl_->object) {
    if (std::find(names.begin(), names.end(), field.key) == names.end()) {
      std::string allowed;
      for (std::string_view n : names) allowed += (allowed.empty() ? "" : ", ") + std::string(n);
      return Invalid(std::string(field.key.substr(0, 64)),
                     "unknown field; this endpoint takes " +
                         (allowed.empty() ? std::string("no fields") : allowed));
    }
  }
  return Status::Ok();
}

namespace {

// The member `name`; false when absent or null.
bool Find(dom::object object, std::string_view name, dom::element* out) {
  return object[name].get(*out) == simdjson::SUCCESS && !out->is_null();
}

}  // namespace

Result<std::optional<std::string>> JsonBody::String(std::string_view name, size_t max_bytes) const {
  dom::element v;
  if (!Find(impl_->object, name, &v)) return std::optional<std::string>();
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return Invalid(name, "must be a string");
  if (s.size() > max_bytes) {
    return Invalid(name, "longer than " + std::to_string(max_bytes) + " bytes");
  }
  return std::optional<std::string>(std::string(s));
}

Result<std::optional<uint64_t>> JsonBody::Uint(std::string_view name, uint64_t max) const {
  dom::element v;
  if (!Find(impl_->object, name, &v)) return std::optional<uint64_t>();
  uint64_t n = 0;
  if (v.get_uint64().get(n) != simdjson::SUCCESS || n > max) {
    return Invalid(name, "must be an integer from 0 to " + std::to_string(max));
  }
  return std::optional<uint64_t>(n);
}

Result<std::optional<int64_t>> JsonBody::Int(std::string_view name, int64_t max) const {
  dom::element v;
  if (!Find(impl_->object, name, &v)) return std::optional<int64_t>();
  int64_t n = 0;
  if (v.get_int64().get(n) != simdjson::SUCCESS || n > max || n < -max) {
    return Invalid(name, "must be an integer from -" + std::to_string(max) + " to " +
                             std::to_string(max));
  }
  return std::optional<int64_t>(n);
}

Result<std::optional<bool>> JsonBody::Bool(std::string_view name) const {
  dom::element v;
  if (!Find(impl_->object, name, &v)) return std::optional<bool>();
  bool b = false;
  if (v.get_bool().get(b) != simdjson::SUCCESS) return Invalid(name, "must be true or false");
  return std::optional<bool>(b);
}

Result<std::optional<std::vector<std::string>>> JsonBody::Strings(std::string_view name,
                                                                  size_t max_items,
                                                                  size_t max_bytes) const {
  using Out = std::optional<std::vector<std::string>>;
  dom::element v;
  if (!Find(impl_->object, name, &v)) return Out();
  dom::array array;
  if (v.get_array().get(array) != simdjson::SUCCESS) {
    return Invalid(name, "must be an array of strings");
  }
  std::vector<std::string> out;
  for (dom::element item : array) {
    if (out.size() == max_items) {
      return Invalid(name, "more than " + std::to_string(max_items) + " items");
    }
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) {
      return Invalid(name, "must be an array of strings");
    }
    if (s.size() > max_bytes) {
      return Invalid(name, "an item is longer than " + std::to_string(max_bytes) + " bytes");
    }
    out.emplace_back(s);
  }
  return Out(std::move(out));
}

Result<std::optional<std::vector<uint64_t>>> JsonBody::Uints(std::string_view name,
                                                             size_t max_items,
                                                             uint64_t max) const {
  using Out = std::optional<std::vector<uint64_t>>;
  dom::element v;
  if (!Find(impl_->object, name, &v)) return Out();
  dom::array array;
  const std::string what = "must be an array of integers 0.." + std::to_string(max);
  if (v.get_array().get(array) != simdjson::SUCCESS) return Invalid(name, what);
  std::vector<uint64_t> out;
  for (dom::element item : array) {
    if (out.size() == max_items) {
      return Invalid(name, "more than " + std::to_string(max_items) + " items");
    }
    uint64_t n = 0;
    if (item.get_uint64().get(n) != simdjson::SUCCESS || n > max) return Invalid(name, what);
    out.push_back(n);
  }
  return Out(std::move(out));
}

Result<std::optional<std::vector<std::pair<std::string, std::string>>>> JsonBody::StringMap(
    std::string_view name, size_t max_items, size_t max_bytes) const {
  using Out = std::optional<std::vector<std::pair<std::string, std::string>>>;
  dom::element v;
  if (!Find(impl_->object, name, &v)) return Out();
  dom::object object;
  if (v.get_object().get(object) != simdjson::SUCCESS) {
    return Invalid(name, "must be an object of strings");
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (dom::key_value_pair field : object) {
    if (out.size() == max_items) {
      return Invalid(name, "more than " + std::to_string(max_items) + " members");
    }
    std::string_view value;
    if (field.value.get_string().get(value) != simdjson::SUCCESS) {
      return Invalid(name, "every value must be a string");
    }
    if (field.key.size() > max_bytes || value.size() > max_bytes) {
      return Invalid(name,
                     "a name or value is longer than " + std::to_string(max_bytes) + " bytes");
    }
    out.emplace_back(std::string(field.key), std::string(value));
  }
  return Out(std::move(out));
}

}  // namespace keymeter
