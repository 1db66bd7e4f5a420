-- POST one AdmissionReview body again and again; prints a JSON summary for run.py.
-- args: body-file path [delay-ms]  (delay: each connection waits that long before its next request)
local req
local delay_ms = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a")
  f:close()
  delay_ms = tonumber(args[3] or "0")
  req = wrk.format("POST", args[2], {["Content-Type"] = "application/json"}, body)
end

function request() return req end

function delay() return delay_ms end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
