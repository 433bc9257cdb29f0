// Fuzz target: the n1ed endpoint's form parser (http/form.h), fed the raw body. With the
// endpoint's limits and with tiny ones (so FORM-TOO-LARGE is reached by field count too).
// Checks what the contract promises: an accepted form has at most max_fields fields, each with
// a non-empty name, no name twice, and FormValue finds each; an error has a stable code.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/form.h"

using namespace keymeter;

namespace {

void Check(std::string_view body, const FormLimits& limits) {
  Result<FormFields> form = ParseForm(body, limits);
  if (!form) {
    const Code code = form.error().code();
    if (code != Code::kFormTooLarge && code != Code::kMalformedForm &&
        code != Code::kDuplicateField) {
      __builtin_trap();
    }
    return;
  }
  const FormFields& fields = form.value();
  if (fields.size() > limits.max_fields || body.size() > limits.max_bytes) __builtin_trap();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].first.empty()) __builtin_trap();
    const auto value = FormValue(fields, fields[i].first);
    if (!value || *value != fields[i].second) __builtin_trap();  // first and only occurrence
    if (fields[i].first.size() > body.size() || fields[i].second.size() > body.size()) {
      __builtin_trap();  // decoding never grows
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  Check(body, FormLimits{});
  Check(body, FormLimits{.max_bytes = 64, .max_fields = 3});
  return 0;
}
