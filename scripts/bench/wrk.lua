-- wrk script for scripts/bench.sh.
--
--   wrk -t2 -c64 -d10s -s scripts/bench/wrk.lua http://127.0.0.1:PORT/PATH -- MODE EXPECT [FILE]
--
-- MODE   static: GET the URL's path as given (GET /, GET /api/billings?limit=50)
--        ids:    GET /api/billings/<id>, ids taken at random from FILE (one billingId a line)
--        users:  GET /api/users/<userId>/billings?limit=10, userIds round-robin from FILE (one a line)
--        post:   POST /api/billings with a JSON body, userId from FILE (one active userId a line)
-- EXPECT the only status that counts as a success for this run (200, 201, ...).
--
-- The `response` callback checks every status; `done` prints one machine-readable line:
--   BENCH_RESULT requests=N duration_us=N non2xx=N unexpected=N p50_us=N p90_us=N p99_us=N
--                max_us=N connect=N read=N write=N timeout=N
-- plus, when something went wrong, BENCH_SAMPLE lines with a status and body that were not EXPECT.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do
    if line ~= "" then table.insert(lines, line) end
  end
  f:close()
  assert(#lines > 0, path .. " is empty")
  return lines
end

local requests = {}
local next_index = 1

function init(args)
  local mode = args[1] or "static"
  expect = tonumber(args[2] or "200")
  non2xx = 0
  unexpected = 0
  sample = ""
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)

  if mode == "static" then
    table.insert(requests, wrk.format("GET", wrk.path))
  elseif mode == "ids" then
    -- Pre-formatted requests in a shuffled order, walked round-robin: an even spread over every
    -- seeded id at no per-request formatting cost.
    local ids = read_lines(args[3])
    for _, id in ipairs(ids) do
      table.insert(requests, wrk.format("GET", "/api/billings/" .. id))
    end
    for i = #requests, 2, -1 do
      local j = math.random(i)
      requests[i], requests[j] = requests[j], requests[i]
    end
  elseif mode == "users" then
    for _, user in ipairs(read_lines(args[3])) do
      table.insert(requests, wrk.format("GET", "/api/users/" .. user .. "/billings?limit=10"))
    end
  elseif mode == "post" then
    local users = read_lines(args[3])
    local headers = { ["Content-Type"] = "application/json" }
    -- A few bodies per user, with different amounts, services and due dates.
    for _, user in ipairs(users) do
      for k = 1, 8 do
        local body = string.format(
          '{"userId":"%s","dueDate":"2025-%02d-%02d","serviceId":"%d","totalInvoice":%d}',
          user, 1 + k % 12, 1 + (k * 3) % 28, k, 100000 + k * 2500)
        table.insert(requests, wrk.format("POST", "/api/billings", headers, body))
      end
    end
    -- Shuffled, so that concurrent requests name different customers, as a real load does:
    -- creations for one customer serialise on purpose (README, "MongoDB").
    for i = #requests, 2, -1 do
      local j = math.random(i)
      requests[i], requests[j] = requests[j], requests[i]
    end
  else
    error("unknown mode " .. mode)
  end
  next_index = math.random(#requests)
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  if status ~= expect then
    unexpected = unexpected + 1
    if sample == "" then
      sample = tostring(status) .. " " .. string.sub(tostring(body or ""), 1, 300)
    end
  end
end

function done(summary, latency, _)
  local bad, wrong = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (tonumber(t:get("non2xx")) or 0)
    wrong = wrong + (tonumber(t:get("unexpected")) or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d non2xx=%d unexpected=%d p50_us=%d p90_us=%d " ..
    "p99_us=%d max_us=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, bad, wrong,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout))
  for _, t in ipairs(threads) do
    local s = t:get("sample")
    if s ~= nil and s ~= "" then
      io.write("BENCH_SAMPLE " .. string.gsub(s, "[\r\n]", " ") .. "\n")
    end
  end
end
