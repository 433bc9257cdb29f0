#include "schemas/status.h"

#include <array>
#include <ostream>

namespace keymeter {

namespace {

struct Spelling {
  std::string_view log;
  std::string_view http;
};

constexpr std::array<Spelling, size_t(Code::kCount)> kSpellings = {
    {{"OK", "OK"},
#define KEYMETER_CODE_SPELLING(name, log, http) {log, http},
     KEYMETER_CODES(KEYMETER_CODE_SPELLING)
#undef KEYMETER_CODE_SPELLING
    }};

const Spelling& SpellingOf(Code code) {
  const size_t i = size_t(code);
  return kSpellings[i < kSpellings.size() ? i : 0];
}

}  // namespace

std::string_view LogName(Code code) { return SpellingOf(code).log; }

std::string_view HttpName(Code code) { return SpellingOf(code).http; }

std::optional<Code> ParseCode(std::string_view text) {
  for (size_t i = 0; i < kSpellings.size(); ++i) {
    if (kSpellings[i].log == text || kSpellings[i].http == text) return Code(i);
  }
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& out, Code code) { return out << LogName(code); }

}  // namespace keymeter
