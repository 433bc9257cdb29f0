// ASCII text rules the modules share: HTTP's case-insensitive names and optional whitespace,
// the lowercase form of domain names and e-mail labels, and CSV cells.
//
// Thread safety: free functions, no shared state.

#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace keymeter {

constexpr char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

// `s` with A-Z lowered; other bytes as they are.
inline std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// ASCII case-insensitive equality (header names and values, media types, URL schemes).
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return AsciiLower(x) == AsciiLower(y); });
}

// `s` without its leading and trailing spaces and tabs (HTTP's optional whitespace).
inline std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break; a cell a
// spreadsheet would run as a formula (=, +, -, @, tab, CR first) is quoted and starts with '.
inline std::string CsvField(std::string_view field) {
  // A cell a spreadsheet would run as a formula (product names come from gateways) starts with
  // a quote mark instead, and is quoted (OWASP's CSV injection advice).
  const bool formula = !field.empty() && std::string_view("=+-@\t\r").find(field[0]) !=
                                             std::string_view::npos;
  if (!formula && field.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(field);
  }
  std::string out = formula ? "\"'" : "\"";
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace keymeter
