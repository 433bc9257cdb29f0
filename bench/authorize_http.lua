-- wrk script of bench/authorize_http.py: GET /v1/authorize rotating through the keys of the file
-- named by KEYMETER_BENCH_KEYS (one per line: valid, wrong-secret and malformed keys, made by
-- bench_population), each wrk thread from its own offset. The same script drives the baseline
-- (nginx answering a fixed 204), so both pay the same Lua cost per request. done() prints one
-- line "WRKJSON {...}" with the counts and latency percentiles (microseconds).
local keys = {}
local next_index = 1
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  for line in io.lines(os.getenv("KEYMETER_BENCH_KEYS")) do keys[#keys + 1] = line end
  next_index = ((thread_id or 0) * 7919) % #keys + 1
end

function request()
  local key = keys[next_index]
  next_index = next_index % #keys + 1
  return wrk.format("GET", "/v1/authorize",
                    {["X-Api-Key"] = key, ["X-Real-IP"] = "198.51.100.7", ["X-Product"] = "whois"})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"non_2xx_3xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"p999_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean))
end
