// The web console's files (console/), embedded in the binary at build time: cmake/km_embed.cmake
// generates their definition from the files, and rebuilds it when one changes.
//
// Thread safety: ConsoleAssets() is pure; the views point into static storage.

#pragma once

#include <string_view>
#include <vector>

namespace keymeter {

struct ConsoleAsset {
  std::string_view name;          // "index.html": the file's base name (console/ is flat)
  std::string_view content_type;  // "text/html; charset=utf-8", from the extension
  std::string_view etag;          // "\"<16 hex digits of the SHA-256>\"", quoted as HTTP wants
  std::string_view body;
};

// Every embedded file, sorted by name.
std::vector<ConsoleAsset> ConsoleAssets();

}  // namespace keymeter
