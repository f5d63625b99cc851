-- One cause, one alert (issue 20, item 11): a sid that is wrong, or already gone when the
-- watcher starts, is never seen recording. It gets on_start_failed once (at the start
-- timeout, with the 404) and no on_ended; the state file records both start_failed and
-- ended, so a restart does not watch it again. Default story, default timings.
local watch = require "rec.watch"

local t0 = rec.now()
local ev = {}
local function watcher(rid, sid, mode)
  ev[sid] = {}
  return watch.agora{
    appid = "sim-agora-app", resourceid = rid, sid = sid, mode = mode,
    on_start_failed = function(res, err)
      ev[sid][#ev[sid] + 1] = ("start_failed@%d %s %s"):format(math.floor(rec.now() - t0), tostring(res), err and err.kind)
    end,
    on_ended = function() ev[sid][#ev[sid] + 1] = "ended" end,
  }
end

local wrong = watcher("sim-resource-nope", "sid-wrong", "mix")
rec.sleep(20)   -- sid-vanish's worker is gone from t=8 s
local gone = watcher("sim-resource-vanish", "sid-vanish", "individual")
wrong:wait()
gone:wait()

for sid, h in pairs{ ["sid-wrong"] = wrong, ["sid-vanish"] = gone } do
  local e = ev[sid]
  assert(#e == 1, sid .. ": one alert, got " .. #e .. ": " .. table.concat(e, ", "))
  assert(e[1]:find("^start_failed@") and e[1]:find(" nil not_found$"), sid .. ": " .. e[1])
  local st = h:state(h.key)
  assert(st.ended and st.start_failed, sid .. ": ended and start_failed recorded")
end
-- reported at the start timeout (90 s after the watcher's start), not later
assert(ev["sid-wrong"][1]:find("^start_failed@9[0-9] "), ev["sid-wrong"][1])
assert(ev["sid-vanish"][1]:find("^start_failed@1[01][0-9] "), ev["sid-vanish"][1])
print("watch_agora_one_alert ok")
