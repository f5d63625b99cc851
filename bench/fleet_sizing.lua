-- bench/fleet_sizing: one process watching N Agora recordings with real watch.agora watchers
-- (every 120 s, first polls spread over the first interval), the state in the store (--state)
-- and failures alerted through a durable notify outbox (to the logging sender).
-- Prints the Lua heap and the resident memory after creating the watchers and after the run.
-- usage: recwatch run --sim --virtual-time --until 1e6 --state DB --scenario fleet_sizing_scenario.lua
--          fleet_sizing.lua N SECS [ACCOUNTS]       (or against `recwatch sim` on the wall clock)
-- With ACCOUNTS > 1, recording i belongs to customer fs-((i-1) % ACCOUNTS + 1) and its watcher
-- queries with that account (the accounts of issue 24); one account: the default credential.
local watch, notify = require "rec.watch", require "rec.notify"
local n, secs, accounts = tonumber(arg[1] or "1000"), tonumber(arg[2] or "130"), tonumber(arg[3] or "1")
local rate = tonumber(os.getenv("BENCH_CLIENT_RATE") or (accounts == 1 and "1200" or "10"))

local function proc_kib(field)
  local f = io.open("/proc/self/status")
  if not f then return -1 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+)")) or -1
end
local function report(what)
  collectgarbage("collect")
  print(("MEM %s watchers %d lua_kib %.0f rss_kib %d hwm_kib %d"):format(what, n, collectgarbage("count"),
        proc_kib("VmRSS"), proc_kib("VmHWM")))
  io.stdout:flush()
end

if accounts > 1 then
  local list = {}
  for k = 1, accounts do
    list[k] = { customer_id = "fs-" .. k, customer_secret = "fs-secret-" .. k, rate = rate }
  end
  rec.configure{ agora = { rate = rate, accounts = list } }
else
  rec.configure{ agora = { rate = rate } }
end
local out = notify.outbox{ to = notify.log(), every = 5 }
local function on_change(res)
  if rec.agora.failed[res.status] then out:alert{ text = "recording " .. res.sid .. " failed" } end
end
local function on_ended(res) out:alert{ text = "recording " .. tostring(res and res.sid) .. " ended" } end

report("before")
local t0, c0 = rec.now(), os.clock()
local hs = {}
for i = 1, n do
  hs[i] = watch.agora{ appid = "fs-app", resourceid = "res-" .. i, sid = "sid-" .. i, mode = "mix",
                       every = 120, first_after = 120 * i / n, outbox = out, on_change = on_change, on_ended = on_ended, on_start_failed = on_ended,
                       account = accounts > 1 and ("fs-" .. ((i - 1) % accounts + 1)) or nil }
end
report("created")
local c1 = os.clock()
rec.sleep(secs)
local polls, good = 0, 0
for _, s in ipairs(watch.status()) do polls, good = polls + s.polls, good + s.good_polls end
local cpu = os.clock() - c1
print(("RESULT watchers %d secs %g polls %d good %d create_cpu_s %.3f run_cpu_s %.3f wall_s %.3f cpu_share %.3f"):format(
      n, secs, polls, good, c1 - c0, cpu, rec.now() - t0, cpu / math.max(1e-9, rec.now() - t0 - (c1 - c0))))
report("after")
rec.exit(0)
