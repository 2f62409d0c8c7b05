-- wrk script: POST /chat with the three test questions in turn; counts statuses.
--   wrk -t2 -c8 -d20s -s scripts/load.lua http://127.0.0.1:8080/chat
local questions = {
  "Quelles sont les différentes variantes de la tarte aux pommes ?",
  "Comment faire une tarte aux pommes ?",
  "Quel est le secret d'une bonne tarte aux pommes ?",
}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local q = questions[(counter % #questions) + 1]
  if os.getenv("LOAD_UNIQUE") then q = q .. " (" .. id .. "-" .. counter .. ")" end
  return wrk.format(nil, nil, nil, '{"question": "' .. q .. '"}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do total[code] = (total[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(total) do table.insert(parts, code .. "=" .. n) end
  table.sort(parts)
  io.write(string.format("load: requests=%d duration=%.1fs throughput=%.1f req/s p50=%.1fms p95=%.1fms p99=%.1fms socket_errors=%d non2xx=%d statuses: %s\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, table.concat(parts, " ")))
end
