-- wrk script for bench/api.py: POSTs a JSON body with a unique Idempotency-Key per request
-- for `window` seconds, then only GETs a page that writes nothing, so that when wrk stops
-- no insert is in flight and the rows in the database can be compared with the 2xx seen.
-- Arguments: post_path body_file window_seconds tail_path token run_id
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  post_path, window, tail_path, token, run_id = args[1], tonumber(args[3]), args[4], args[5], args[6]
  local file = assert(io.open(args[2], "rb"))
  body = file:read("*a")
  file:close()
  posted, acked, refused, tail = 0, 0, 0, 0
  deadline = now() + window
end

function request()
  if now() < deadline then
    posted = posted + 1
    local headers = {
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = run_id .. "-" .. thread_id .. "-" .. posted,
    }
    if token ~= "-" then headers["Authorization"] = "Token " .. token end
    return wrk.format("POST", post_path, headers, body)
  end
  return wrk.format("GET", tail_path)
end

function response(status, headers, response_body)
  if string.find(response_body, '"id"', 1, true) then
    if status >= 200 and status < 300 then acked = acked + 1 else refused = refused + 1 end
  elseif status >= 300 then
    refused = refused + 1
  else
    tail = tail + 1
  end
end

function done(summary, latency, requests)
  local totals = { posted = 0, acked = 0, refused = 0, tail = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do totals[name] = totals[name] + thread:get(name) end
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"posted": %d, "acked": %d, "refused": %d, "tail": %d, ' ..
    '"socket_errors": %d, "latency_p50_ms": %.2f, "latency_p99_ms": %.2f}\n',
    totals.posted, totals.acked, totals.refused, totals.tail,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
