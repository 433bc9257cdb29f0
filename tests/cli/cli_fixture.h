// Running the `keymeter` binary (KEYMETER_BINARY) to its end in the CLI tests.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/common/process_fixture.h"
#include "tests/common/temp_dir.h"

namespace keymeter::testing {

// What a `keymeter` run printed, and its exit code (-1: it did not exit normally).
struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `keymeter args...` to its end: stdout is read while it runs (until EOF, or `timeout`),
// then it has 30 s to exit; its stderr is tmp/stderr.
inline Run Keymeter(const std::vector<std::string>& args, const TempDir& tmp,
                    std::chrono::milliseconds timeout = 60s) {
  auto process = Spawn(args, tmp.sub("stderr"));
  Run run;
  run.out = process->ReadAll(timeout);
  run.code = process->Wait(30s);
  run.err = process->Stderr();
  return run;
}

}  // namespace keymeter::testing
