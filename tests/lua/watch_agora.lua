-- watch.agora on the default scenario with short timings: sid-vanish (records, worker gone
-- from t=8 s) gets on_started once and on_ended once the 404 has lasted the failover window
-- (90 s), with the last successful result, and its watcher stops by itself; a recording that
-- does not exist gets on_start_failed once and nothing else (one cause, one alert); a query
-- that yields an error goes to on_error, not to a crash.
local watch = require "rec.watch"

local ev = {}
local function log(e) ev[#ev + 1] = e end
local t0 = rec.now()
local v = watch.agora{
  appid = "sim-agora-app", resourceid = "sim-resource-vanish", sid = "sid-vanish",
  mode = "individual", every = 0.5, first_after = 0.2, confirm_delays = { 0.3, 0.3, 0.3 },
  on_change = function(res, old) log("change " .. tostring(old) .. ">" .. res.status) end,
  on_started = function(res) log("started " .. res.status) end,
  on_start_failed = function() log("start_failed") end,
  on_ended = function(last, err) log("ended " .. last.status .. " " .. err.kind) end,
}
local missing = {}
local m = watch.agora{
  appid = "sim-agora-app", resourceid = "nope", sid = "sid-nope", mode = "mix",
  first_after = 0.2, start_every = 0.2, start_timeout = 1, confirm_delays = { 0.5, 0.5, 5 },
  on_start_failed = function(res, err) missing[#missing + 1] = { res, err } end,
  on_ended = function() missing.ended = true end,
}
v:wait()   -- ends by itself
local took = rec.now() - t0
assert(took > 8 + 90 and took < 8 + 90 + 5, "ended after " .. took)
local s = table.concat(ev, ",")
assert(s:find("^change nil>[45],") and s:find("started [45]") and s:find(",ended 5 not_found$"), s)
local n = 0
for _, e in ipairs(ev) do if e:find("^started") then n = n + 1 end end
assert(n == 1, s)
assert(not s:find("start_failed"), s)
assert(v:state(v.key).ended == true)

m:wait()
assert(#missing == 1, "on_start_failed once, got " .. #missing)
assert(missing[1][1] == nil and missing[1][2].kind == "not_found")
assert(not missing.ended, "a sid never seen recording: on_start_failed only, no on_ended")
assert(m:state(m.key).ended and m:state(m.key).start_failed, "ended and start_failed are both recorded")

-- an ended recording in the state is not watched again
local again = false
local v2 = watch.agora{ appid = "sim-agora-app", resourceid = "sim-resource-vanish", sid = "sid-vanish",
                        mode = "individual", first_after = 0.1, on_ended = function() again = true end }
v2:wait()
assert(not again)
print("watch_agora ok")
