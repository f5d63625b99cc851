-- The virtual clock's rules, end to end: faults that park a request on a virtual timer,
-- request timeouts as engine timers, the 429 window and QingCloud's time_stamp window.
local T = require "rec.test"

local scenario = {
  agora = { customer_id = "vt-customer", customer_secret = "vt-secret-0123456789", rate_limit = 0 },
  agora_recordings = {
    { appid = "vt-app", resourceid = "vt-rid", sid = "slow", mode = "mix", status = 5 },
    { appid = "vt-app", resourceid = "vt-rid", sid = "hang", mode = "mix", status = 5 },
    { appid = "vt-app", resourceid = "vt-rid", sid = "ok", mode = "mix", status = 5 },
  },
  faults = {
    { provider = "agora", kind = "delay", ms = 5000, match = "/sid/slow/" },
    { provider = "agora", kind = "delay", ms = 3600000, match = "/sid/hang/" },
  },
}

local function result(t)
  local lines = t:logs("RESULT")
  t:eq(#lines, 1, "one result line")
  return lines[1]
end

T.case("a delayed reply arrives after its virtual delay, not before", function(t)
  t:scenario(scenario)
  local p = t:start("query_once.lua", { "slow", "10" })
  t:advance(4.9)
  t:eq(p:exited(), nil, "still waiting at 4.9 s")
  t:advance(0.2)
  t:eq(p:exited(), 0)
  t:ok(result(t):find("status 5 after 5.000 s", 1, true), result(t))
end)

T.case("a hung request times out at its virtual timeout", function(t)
  t:scenario(scenario)
  local p = t:start("query_once.lua", { "hang", "10" })
  t:advance(9.9)
  t:eq(p:exited(), nil)
  t:advance(0.2)
  t:eq(p:exited(), 0)
  t:ok(result(t):find("timeout attempts 1 after 10.000 s", 1, true), result(t))
end)

T.case("retries after a timeout wait their backoff on the same clock", function(t)
  t:scenario(scenario)
  local p = t:start("query_once.lua", { "hang", "10", "2" })
  t:advance(100)
  t:eq(p:exited(), 0)
  -- 3 attempts of 10 s, two backoffs of 2 s +-20% jitter
  local took = tonumber(result(t):match("after ([%d.]+) s"))
  t:ok(result(t):find("timeout attempts 3", 1, true), result(t))
  t:ok(took >= 33.2 and took <= 34.8, "took " .. took)
end)

T.case("the simulator's 429 window counts virtual seconds", function(t)
  t:scenario{
    agora = { customer_id = "vt-customer", customer_secret = "vt-secret-0123456789", rate_limit = 2 },
    agora_recordings = { { appid = "vt-app", resourceid = "vt-rid", sid = "ok", mode = "mix", status = 5 } },
  }
  local script = t:tmpfile("burst.lua")
  local f = assert(io.open(script, "w"))
  f:write([[
    rec.configure{ agora = { rate = 0, retries = 0 } }
    local function q() return rec.query_agora{ appid = "vt-app", resourceid = "vt-rid", sid = "ok", mode = "mix" } end
    local n429 = 0
    for i = 1, 3 do local _, err = q(); if err and err.status == 429 then n429 = n429 + 1 end end
    rec.sleep(1)
    local ok = q()
    rec.log.info("BURST %d 429s, then %s", n429, ok and "ok" or "limited")
  ]])
  f:close()
  t:start(script, {})
  t:advance(2)
  t:eq(#t:logs("BURST 1 429s, then ok"), 1, table.concat(t:logs("BURST"), "; "))
end)

T.case("QingCloud signatures and the time_stamp check move with the clock", function(t)
  local script = t:tmpfile("qc.lua")
  local f = assert(io.open(script, "w"))
  f:write([[
    local start = rec.time()
    rec.sleep(6 * 3600)   -- far past the 15-minute time_stamp window of the start
    local res, err = rec.query_qingcloud{ app_id = "demo-app", channel = "demo-channel" }
    rec.log.info("QC %s at +%d s", res and "ok" or tostring(err), math.floor(rec.time() - start))
  ]])
  f:close()
  t:start(script, {})
  t:advance(6 * 3600 + 1)
  t:eq(#t:logs("QC ok at %+21600 s"), 1, table.concat(t:logs("QC"), "; "))
end)

T.case("os.time and rec.time follow the virtual clock; rec.every ticks on it", function(t)
  local script = t:tmpfile("every.lua")
  local f = assert(io.open(script, "w"))
  f:write([[
    local t0, o0, n = rec.time(), os.time(), 0
    local timer = rec.every(30, function() n = n + 1 end)
    rec.sleep(3600)
    timer:stop()
    rec.log.info("EVERY %d ticks, rec.time +%d, os.time +%d", n, math.floor(rec.time() - t0 + 0.5), os.time() - o0)
  ]])
  f:close()
  local p = t:start(script, {})
  t:advance(3600)
  t:eq(p:exited(), 0)
  -- the tick due at 3600 s was armed after the sleep due at the same time: the sleep wakes
  -- first and stops the timer (timers due together fire in the order they were armed)
  t:eq(t:logs("EVERY")[1], "info [task 1] EVERY 119 ticks, rec.time +3600, os.time +3600")
end)

T.case("an event timeout is a virtual timer; a deadlocked script never moves time", function(t)
  local script = t:tmpfile("ev.lua")
  local f = assert(io.open(script, "w"))
  f:write([[
    local ev = rec.event()
    local ok, err = ev:wait(90)
    rec.log.info("EVENT %s at %g", err and err.kind or "set", rec.now())
    ev:wait()  -- nobody sets it
  ]])
  f:close()
  local p = t:start(script, {})
  t:advance(100)
  t:eq(t:logs("EVENT")[1], "info [task 1] EVENT timeout at 90")
  t:eq(p:exited(), nil, "waits for ever")
  t:eq(t:now(), 100)
end)

T.case("os.time and os.date on the virtual clock name themselves in their errors", function(t)
  -- they used to say "bad argument #1 to 'collectgarbage'"
  local ok, err = pcall(os.time, "x")
  t:eq(ok, false)
  t:ok(tostring(err):find("to 'time'", 1, true), tostring(err))
  ok, err = pcall(os.date, {})
  t:eq(ok, false)
  t:ok(tostring(err):find("to 'date'", 1, true), tostring(err))
end)
