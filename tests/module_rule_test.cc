// The layout rule (DESIGN §4, README "Layout"), checked on the source tree:
//   cli → api → http;  cli, api → engine → projections, consumers → schemas
// nothing includes a module above it; every module is a folder with one CMake target made by
// km_library and a README.md; no source file is over 400 lines.
//
// The checker is a function of the file's module and its include lines, so the test first
// proves it refuses a violation, then runs it over every source file of the tree.

#define BOOST_TEST_MODULE module_rule_test
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// What each module may include (besides itself and third-party headers). A new module must be
// added here, and to DESIGN §4 and the README's layout table.
const std::map<std::string, std::set<std::string>>& AllowedIncludes() {
  static const std::map<std::string, std::set<std::string>> kAllowed = {
      {"schemas", {}},
      {"consumers", {"schemas"}},
      {"projections", {"schemas"}},
      {"engine", {"projections", "consumers", "schemas"}},
      {"http", {"schemas"}},
      {"cluster", {"http", "engine", "projections", "consumers", "schemas"}},
      {"api", {"cluster", "http", "engine", "projections", "consumers", "schemas"}},
      {"cli", {"api", "cluster", "http", "engine", "projections", "consumers", "schemas"}},
  };
  return kAllowed;
}

// The modules a file of `module` includes against the rule, given its text.
std::vector<std::string> Violations(const std::string& module, const std::string& text) {
  static const std::regex kInclude(R"re(^\s*#\s*include\s+"([a-z_]+)/)re");
  const auto& allowed = AllowedIncludes();
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, kInclude)) continue;
    const std::string target = m[1];
    if (target == module || !allowed.contains(target)) continue;  // own or third-party
    if (!allowed.at(module).contains(target)) out.push_back(target);
  }
  return out;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool IsSource(const fs::path& p) { return p.extension() == ".h" || p.extension() == ".cc"; }

const fs::path kRoot = KEYMETER_SOURCE_DIR;

}  // namespace

BOOST_AUTO_TEST_CASE(checker_refuses_includes_from_above) {
  BOOST_TEST(Violations("engine", "#include \"api/context.h\"\n") ==
             std::vector<std::string>{"api"});
  BOOST_TEST(Violations("http", "#include \"engine/store.h\"\n#include \"cli/serve.h\"\n") ==
             (std::vector<std::string>{"engine", "cli"}));
  BOOST_TEST(Violations("api", "  #  include \"cli/common.h\"\n").size() == 1u);
  BOOST_TEST(
      Violations("cli", "#include \"api/context.h\"\n#include \"engine/store.h\"\n").empty());
  BOOST_TEST(Violations("engine", "#include \"absl/base/macros.h\"\n").empty());
}

BOOST_AUTO_TEST_CASE(no_module_includes_one_above_it) {
  size_t files = 0;
  for (const auto& [module, unused] : AllowedIncludes()) {
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(kRoot / module)) {
      if (!e.is_regular_file() || !IsSource(e.path())) continue;
      ++files;
      for (const std::string& target : Violations(module, Read(e.path()))) {
        BOOST_ERROR(fs::relative(e.path(), kRoot).string()
                    << " includes " << target << "/, a module above " << module);
      }
    }
  }
  BOOST_TEST(files > 100u);
}

BOOST_AUTO_TEST_CASE(each_module_is_one_target_with_a_readme) {
  static const std::regex kLibrary(R"(^km_library\((\w+))");
  for (const auto& [module, unused] : AllowedIncludes()) {
    BOOST_TEST_CONTEXT(module) {
      BOOST_TEST(fs::exists(kRoot / module / "README.md"));
      const std::string cmake = Read(kRoot / module / "CMakeLists.txt");
      std::vector<std::string> targets;
      std::istringstream lines(cmake);
      std::string line;
      while (std::getline(lines, line)) {
        std::smatch m;
        if (std::regex_search(line, m, kLibrary)) targets.push_back(m[1]);
      }
      BOOST_TEST(targets == std::vector<std::string>{module});
      BOOST_TEST(cmake.find("add_library(") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(no_source_file_over_400_lines) {
  std::vector<std::string> roots;
  for (const auto& [module, unused] : AllowedIncludes()) roots.push_back(module);
  roots.push_back("tests");
  roots.push_back("bench");
  for (const std::string& root : roots) {
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(kRoot / root)) {
      if (!e.is_regular_file() || !IsSource(e.path())) continue;
      if (e.path().string().find("node_modules") != std::string::npos) continue;
      const std::string text = Read(e.path());
      const size_t lines = size_t(std::count(text.begin(), text.end(), '\n'));
      BOOST_TEST(lines <= 400u, fs::relative(e.path(), kRoot).string() << ": " << lines);
    }
  }
}
