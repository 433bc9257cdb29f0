// Paged reads of the audit history and the request log, newest first, shared by the account
// admin's GET /v1/audit and GET /v1/requests and the member's GET /v1/me/requests.
//
// Parameters (api/params.h): from, to (RFC 3339; from inclusive, to exclusive), limit
// (1..1000, default 100), cursor (the previous page's next_cursor); requests also take status
// (2xx, 3xx, 4xx, 5xx, or the digit alone).
//
//   audit    → {"entries": [{"time","command_id","actor": {"kind","key_id"},"op","key_id",
//                             "outcome","detail"}], "next_cursor": string|null}
//   requests → {"requests": [{"time","request_id","key_id","product","units","status",
//                             "bytes_in","bytes_out","latency_us","ip","gateway"}],
//               "next_cursor": string|null}
// Times are RFC 3339 UTC with microseconds. next_cursor is null on the last page.
//
// Thread safety: thread-safe (RocksDB reads; no lock held).

#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/json.h"
#include "http/server.h"
#include "schemas/ids.h"

namespace keymeter {

class Pipeline;

// The audit history of `account_id`, only entries about `key` when set.
void AnswerAudit(Pipeline& pipeline, std::string_view account_id, std::optional<KeyId> key,
                 const http::Request& request, http::Response& response);
// The same, only entries of `ops` when not empty; `head` (optional) writes members before
// "entries".
void AnswerAuditOf(Pipeline& pipeline, std::string_view account_id, std::optional<KeyId> key,
                   const http::Request& request, http::Response& response,
                   const std::vector<std::string>& ops,
                   const std::function<void(http::JsonWriter&)>& head);

// The request log of `account_id`; when `key` is set, only its family's requests: the key's and,
// for a root key, those of every key whose pool it is (its children, and deleted children that
// still count to it), as GET /v1/usage?key=<root> rolls them up.
void AnswerRequests(Pipeline& pipeline, std::string_view account_id, std::optional<KeyId> key,
                    const http::Request& request, http::Response& response);
// The request log of one key alone (a member's own).
void AnswerKeyRequests(Pipeline& pipeline, std::string_view account_id, KeyId key,
                       const http::Request& request, http::Response& response);

}  // namespace keymeter
