-- wrk script for scripts/bench.sh: creates about COUNT billings through POST /api/billings, as
-- fast as the service takes them, then stops.
--
--   wrk -tT -cN -d600s -s scripts/bench/seed.lua http://127.0.0.1:PORT/api/billings -- COUNT T FILE DONE
--
-- COUNT  billings to create, split between the T threads (T must be wrk's -t)
-- FILE   the userIds to create them for (one active userId a line), taken round-robin
-- DONE   a path prefix: each thread creates the file DONE.<n> when it has its COUNT/T answers
--        and stops. wrk itself runs for its whole -d: the caller waits for the T files, then
--        sends wrk SIGINT (it then prints its summary and `done`'s line and exits).
--
-- A few POSTs are still in flight when a thread stops (at most one a connection): they may or
-- may not be stored, so the caller counts the store afterwards and tops it up exactly.
-- `done` prints one line:
--   SEED_RESULT answered=N created=N failed=N
-- plus a SEED_SAMPLE line with the first answer that was not 201, if any.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local requests = {}
local next_index = 1

function init(args)
  local count = tonumber(args[1])
  local nthreads = tonumber(args[2])
  quota = math.floor(count / nthreads)
  if tid == 1 then quota = quota + count % nthreads end
  created = 0
  failed = 0
  sample = ""
  done_file = args[4] .. "." .. tostring(tid or 1)
  stopped = false

  local headers = { ["Content-Type"] = "application/json" }
  local f = assert(io.open(args[3], "r"), "cannot open " .. tostring(args[3]))
  local k = 0
  for user in f:lines() do
    if user ~= "" then
      for j = 1, 4 do
        k = k + 1
        local body = string.format(
          '{"userId":"%s","dueDate":"2025-%02d-%02d","serviceId":"%d","totalInvoice":%d}',
          user, 1 + k % 12, 1 + (k * 3) % 28, 1 + k % 5, 100000 + (k % 1000) * 250)
        table.insert(requests, wrk.format("POST", wrk.path, headers, body))
      end
    end
  end
  f:close()
  assert(#requests > 0, args[3] .. " is empty")
  next_index = ((tid or 1) - 1) % #requests + 1
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    failed = failed + 1
    if sample == "" then
      sample = tostring(status) .. " " .. string.sub(tostring(body or ""), 1, 300)
    end
  end
  if created + failed >= quota and not stopped then
    stopped = true
    local f = io.open(done_file, "w")
    if f then f:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, _)
  local c, f = 0, 0
  for _, t in ipairs(threads) do
    c = c + (tonumber(t:get("created")) or 0)
    f = f + (tonumber(t:get("failed")) or 0)
  end
  io.write(string.format("SEED_RESULT answered=%d created=%d failed=%d\n", summary.requests, c, f))
  for _, t in ipairs(threads) do
    local s = t:get("sample")
    if s ~= nil and s ~= "" then
      io.write("SEED_SAMPLE " .. string.gsub(s, "[\r\n]", " ") .. "\n")
      break
    end
  end
end
