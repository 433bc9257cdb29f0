// The demo's seed (keymeter demo, cli/demo.h): an account, a root key with a quota and a config,
// members in every status, a gateway and request events, all through the public API, then the
// tokens, keys and curl lines printed for the user to try.
//
// Thread safety: free functions; one call at a time per http::Client.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "http/client.h"
#include "schemas/status.h"

namespace keymeter {

struct SeededKey {
  std::string label, status, id, key, note;
};

struct Seeded {
  std::string account_id, admin_token;
  std::string gateway_id, gateway_token;  // the demo gateway's credential
  std::vector<SeededKey> keys;  // parent, active member, pending member, suspended member
  int64_t accepted = 0;
};

// Seeds the server `client` talks to, as the operator `operator_token`, with `requests` request
// events over the last three days; waits until they are applied.
Result<Seeded> SeedDemo(http::Client& client, const std::string& operator_token, int requests);

// Prints what the user needs: address, tokens, keys and curl lines that work as printed.
void PrintDemo(const std::string& url, const std::string& data_dir, bool temporary,
               const std::string& operator_token, int requests, const Seeded& s);

}  // namespace keymeter
