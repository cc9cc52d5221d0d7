-- wrk script for bench_http.py: POST one tool call per request and check every answer.
--   BENCH_BODY   the JSON body (an MCP tools/call JSON-RPC request, or a REST invoke body)
--   BENCH_KIND   "mcp" (Streamable HTTP headers; ok = a JSON-RPC result without isError)
--                or "rest" (ok = "success":true)
--   BENCH_TOKEN  bearer token (a personal access token for the gateway; empty for the bare servers)
-- A call counts as an error when the status is not 200 or the body does not say it succeeded
-- (a 200 with isError is an error too). done() prints one JSON line that bench_http.py reads.

local kind = os.getenv("BENCH_KIND") or "mcp"
local token = os.getenv("BENCH_TOKEN") or ""
local threads = {}

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
if kind == "mcp" then
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = os.getenv("BENCH_PROTOCOL") or "2025-11-25"
end
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failed = 0
  first_failure = ""
end

function response(status, headers, body)
  local ok
  if status ~= 200 then
    ok = false
  elseif kind == "mcp" then
    ok = body:find('"result"', 1, true) ~= nil and body:find('"isError":true', 1, true) == nil
  else
    ok = body:find('"success":true', 1, true) ~= nil
  end
  if not ok then
    failed = failed + 1
    if first_failure == "" then
      first_failure = status .. " " .. body:sub(1, 200)
    end
  end
end

local function quote(text)
  return '"' .. text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local failed_total, sample = 0, ""
  for _, thread in ipairs(threads) do
    failed_total = failed_total + (thread:get("failed") or 0)
    local first = thread:get("first_failure") or ""
    if sample == "" then sample = first end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"failed":%d,"socket_errors":%d,"first_failure":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, failed_total,
    errors.connect + errors.read + errors.write + errors.timeout, quote(sample)))
end
