#include "http/form.h"

#include "http/server.h"

namespace keymeter {

Result<FormFields> ParseForm(std::string_view body, const FormLimits& limits) {
  if (body.size() > limits.max_bytes) {
    return Status(Code::kFormTooLarge,
                  "the form is over " + std::to_string(limits.max_bytes) + " bytes");
  }
  FormFields fields;
  if (body.empty()) return fields;
  size_t start = 0;
  while (start <= body.size()) {
    const size_t amp = body.find('&', start);
    const size_t end = amp == std::string_view::npos ? body.size() : amp;
    const std::string_view field = body.substr(start, end - start);
    if (fields.size() == limits.max_fields) {
      return Status(Code::kFormTooLarge,
                    "more than " + std::to_string(limits.max_fields) + " fields");
    }
    const size_t eq = field.find('=');
    if (field.empty() || eq == std::string_view::npos || eq == 0) {
      return Status(Code::kMalformedForm, "every field must be name=value");
    }
    std::string name, value;
    if (!http::PercentDecode(field.substr(0, eq), true, &name) ||
        !http::PercentDecode(field.substr(eq + 1), true, &value)) {
      return Status(Code::kMalformedForm, "a '%' must be followed by two hex digits");
    }
    if (name.empty()) return Status(Code::kMalformedForm, "every field must be name=value");
    if (FormValue(fields, name)) {
      return Status(Code::kDuplicateField, "field '" + name.substr(0, 64) + "' is given twice");
    }
    fields.emplace_back(std::move(name), std::move(value));
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return fields;
}

std::optional<std::string_view> FormValue(const FormFields& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

}  // namespace keymeter
