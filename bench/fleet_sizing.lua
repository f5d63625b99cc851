-- bench/fleet_sizing: one process watching N Agora recordings with real watch.agora watchers
-- (every 120 s, first polls spread over the first interval), the state in the store (--state)
-- and failures alerted through a durable notify outbox (to the logging sender).
-- Prints the Lua heap and the resident memory after creating the watchers and after the run,
-- and the CPU time (os.clock: the whole process) of the steady state: from 130 s after the first
-- polls began (every watcher has polled once and stored its first status) to SECS.
-- usage: recwatch run --sim --virtual-time --until 1e6 --state DB --scenario fleet_sizing_scenario.lua
--          fleet_sizing.lua N SECS [ACCOUNTS]       (or against `recwatch sim` on the wall clock)
-- With ACCOUNTS > 1, recording i belongs to customer fs-((i-1) % ACCOUNTS + 1) and its watcher
-- queries with that account (the accounts of issue 24); one account: the default credential.
local watch, notify = require "rec.watch", require "rec.notify"
local n, secs, accounts = tonumber(arg[1] or "1000"), tonumber(arg[2] or "130"), tonumber(arg[3] or "1")
-- the client's pacer per account: under the simulator's limit (1,200/s for one account, 10 for
-- each of many), as a deployment configures it; at the limit itself the first second's burst
-- meets 429s, and the pacer then widens and slows the whole run down
local rate = tonumber(os.getenv("BENCH_CLIENT_RATE") or (accounts == 1 and "1000" or "9"))

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
-- creating 100,000 watchers takes seconds without yielding: the first polls start after
-- it (lead), spread over 120 s, so that no burst of due timers meets the limit at once
local lead = n / 2500
for i = 1, n do
  hs[i] = watch.agora{ appid = "fs-app", resourceid = "res-" .. i, sid = "sid-" .. i, mode = "mix",
                       every = 120, first_after = math.max(0, lead + 120 * i / n - (rec.now() - t0)), outbox = out, on_change = on_change, on_ended = on_ended, on_start_failed = on_ended,
                       account = accounts > 1 and ("fs-" .. ((i - 1) % accounts + 1)) or nil }
end
report("created")
local c1 = os.clock()
-- the first interval: every watcher's first poll, and the commits of its first status
local first = math.min(secs, lead + 130 - (rec.now() - t0))
rec.sleep(first)
local function count()
  local polls, good = 0, 0
  for _, s in ipairs(watch.status()) do polls, good = polls + s.polls, good + s.good_polls end
  return polls, good
end
local p1 = count()
local c2, t2 = os.clock(), rec.now()
-- the steady state: polls that find nothing new
rec.sleep(secs - first)
local polls, good = count()
local c3, t3 = os.clock(), rec.now()
print(("RESULT watchers %d secs %g polls %d good %d create_cpu_s %.3f first_cpu_s %.3f steady_polls %d steady_cpu_s %.3f steady_wall_s %.3f steady_share %.4f us_per_steady_poll %.1f"):format(
      n, secs, polls, good, c1 - c0, c2 - c1, polls - p1, c3 - c2, t3 - t2, (c3 - c2) / math.max(1e-9, t3 - t2),
      polls - p1 > 0 and 1e6 * (c3 - c2) / (polls - p1) or 0))
report("after")
rec.exit(0)
