// A strict, bounded parser of application/x-www-form-urlencoded bodies (the n1ed endpoint's
// format, seed 001). Meant to be fed untrusted bytes (and fuzzed).
//
//   form  := "" | field ("&" field)*
//   field := name "=" value          name: at least one byte; value: may be empty
// In names and values '+' is a space and "%XX" (two hex digits) is the byte XX; a '%' not
// followed by two hex digits is an error. Decoded bytes are returned as they are (no charset
// check). Each name may appear once.
//
// Errors (Status::code()): FORM-TOO-LARGE (body over max_bytes, or more than max_fields
// fields), MALFORMED-FORM (an empty field, a field without '=', an empty name, a bad escape),
// DUPLICATE-FIELD (a name given twice; the message names it, cut to 64 bytes).
//
// Thread safety: pure function.

#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/status.h"

namespace keymeter {

struct FormLimits {
  size_t max_bytes = 8 << 10;
  size_t max_fields = 16;
};

using FormFields = std::vector<std::pair<std::string, std::string>>;

Result<FormFields> ParseForm(std::string_view body, const FormLimits& limits = {});

// The value of `name` in `fields`, or nullopt.
std::optional<std::string_view> FormValue(const FormFields& fields, std::string_view name);

}  // namespace keymeter
