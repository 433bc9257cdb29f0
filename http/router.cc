#include "http/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "http/json.h"

namespace keymeter::http {

namespace {

// Splits "/a/b/c" into {"a","b","c"}; "/" gives {}.
std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  if (path == "/") return out;
  size_t start = 1;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

[[noreturn]] void BadRoute(std::string_view method, std::string_view pattern,
                           std::string_view why) {
  spdlog::critical("router: {} {}: {}", method, pattern, why);
  std::abort();
}

}  // namespace

void Router::Wrap(const std::function<Handler(const Route&, Handler)>& wrap) {
  for (const auto& entry : entries_) {
    for (auto& [method, handler] : entry->methods) {
      handler = wrap(Route{method, entry->pattern}, std::move(handler));
    }
  }
}

void Router::Add(std::string_view method, std::string_view pattern, Handler handler, Lane lane) {
  if (method.empty() || pattern.empty() || pattern.front() != '/') {
    BadRoute(method, pattern, "a route needs a method and a pattern starting with '/'");
  }
  const std::vector<std::string_view> segments = Split(pattern);
  size_t literals = 0;
  std::vector<std::string_view> names;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string_view segment = segments[i];
    if (segment.empty()) {
      // Only a trailing slash ("/console/"): it matches a path with that trailing slash.
      if (i + 1 != segments.size()) BadRoute(method, pattern, "empty segment");
      continue;
    }
    if (IsParam(segment)) {
      const std::string_view name = segment.substr(1, segment.size() - 2);
      if (name.find_first_of("{}") != std::string_view::npos) BadRoute(method, pattern, "bad {}");
      for (std::string_view n : names) {
        if (n == name) BadRoute(method, pattern, "parameter named twice");
      }
      names.push_back(name);
    } else if (segment.find_first_of("{}") != std::string_view::npos) {
      BadRoute(method, pattern, "a parameter must be a whole segment");
    } else {
      ++literals;
    }
  }
  if (names.size() > kMaxParams) BadRoute(method, pattern, "too many parameters");

  Entry* entry = nullptr;
  for (const auto& e : entries_) {
    if (e->pattern == pattern) entry = e.get();
  }
  if (entry == nullptr) {
    entries_.push_back(std::make_unique<Entry>());
    entry = entries_.back().get();
    entry->pattern = std::string(pattern);
    for (std::string_view segment : segments) entry->segments.emplace_back(segment);
    entry->literals = literals;
    if (names.empty()) {
      exact_.emplace(entry->pattern, entry);
    } else {
      parameterized_.push_back(entry);
    }
  }
  for (const auto& [m, h] : entry->methods) {
    if (m == method) BadRoute(method, pattern, "registered twice");
  }
  entry->methods.emplace_back(std::string(method), std::move(handler));
  entry->lanes.push_back(lane);
  entry->allow += entry->allow.empty() ? std::string(method) : ", " + std::string(method);
  routes_.push_back(Route{std::string(method), std::string(pattern)});
}

const Router::Entry* Router::Match(std::string_view path, std::string_view* captures) const {
  if (auto it = exact_.find(absl::string_view(path.data(), path.size())); it != exact_.end()) {
    return it->second;
  }
  const Entry* best = nullptr;
  std::string_view candidate[kMaxParams];
  for (const Entry* entry : parameterized_) {
    if (best != nullptr && entry->literals <= best->literals) continue;
    // Walk the path's segments against the pattern's without allocating.
    size_t i = 0, n = 0, pos = 1;
    bool ok = true;
    while (ok && pos <= path.size() && i < entry->segments.size()) {
      const size_t slash = path.find('/', pos);
      const size_t end = slash == std::string_view::npos ? path.size() : slash;
      const std::string_view segment = path.substr(pos, end - pos);
      const std::string& want = entry->segments[i++];
      if (IsParam(want)) {
        ok = !segment.empty();
        if (ok) candidate[n++] = segment;
      } else {
        ok = segment == want;
      }
      pos = end + 1;
    }
    if (!ok || i != entry->segments.size() || pos <= path.size()) continue;
    best = entry;
    std::copy(candidate, candidate + n, captures);
  }
  return best;
}

bool Router::RunsInline(const Request& request) const {
  std::string_view captures[kMaxParams];
  const bool absolute = !request.path.empty() && request.path.front() == '/';
  const Entry* entry = absolute ? Match(request.path, captures) : nullptr;
  if (entry == nullptr) return true;
  for (size_t i = 0; i < entry->methods.size(); ++i) {
    if (entry->methods[i].first == request.method) return entry->lanes[i] == Lane::kInline;
  }
  return true;
}

void Router::Dispatch(const Request& request, Response& response) const {
  std::string_view captures[kMaxParams];
  const bool absolute = !request.path.empty() && request.path.front() == '/';
  const Entry* entry = absolute ? Match(request.path, captures) : nullptr;
  if (entry == nullptr) {
    return SetError(response, 404, Code::kNotFoundRoute, "no route for this path");
  }
  const Handler* handler = nullptr;
  for (const auto& [method, h] : entry->methods) {
    if (method == request.method) handler = &h;
  }
  response.route = entry->pattern;
  if (handler == nullptr) {
    SetError(response, 405, Code::kMethodNotAllowed, "this route answers only " + entry->allow);
    response.SetHeader("Allow", entry->allow);
    return;
  }
  request.path_params.clear();
  size_t n = 0;
  for (const std::string& segment : entry->segments) {
    if (!IsParam(segment)) continue;
    std::string value;
    if (!PercentDecode(captures[n++], false, &value)) {
      return SetError(response, 400, Code::kBadRequest, "malformed percent-encoding in the path");
    }
    request.path_params.emplace_back(std::string_view(segment).substr(1, segment.size() - 2),
                                     std::move(value));
  }
  (*handler)(request, response);
}

}  // namespace keymeter::http
