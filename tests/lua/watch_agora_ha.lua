-- watch.agora and Agora's high-availability window (issue 20, item 3), on the virtual clock
-- (tests/scenarios/watch_agora_ha.lua):
--  * sid-ha answers 404 from t=8 s to t=53 s while it records: with every = 5 it is never
--    "ended" (the old 5/10/15 s confirmation declared it ended at about t=40 s);
--  * sid-gone is gone for good from t=8 s: ended once the window (90 s from the first 404)
--    has passed, with the last status;
--  * sid-multi has three failovers of 60, 80 and 85 s, each its own window, then is gone for
--    good at t=500 s: ended once, 90 s or more after its last first 404;
--  * sid-gap answers 404 from 8 to 18 s, 500 from 18 to 198 s and 404 again from 198 to
--    228 s while it records: the two 404s are not one of 190 s, so it is never ended.
local watch = require "rec.watch"

local t0 = rec.now()
local ev = {}
local function watcher(rid, sid)
  ev[sid] = {}
  return watch.agora{
    appid = "ha-app", resourceid = rid, sid = sid, mode = "mix", every = 5, first_after = 5,
    on_ended = function(last, err)
      ev[sid][#ev[sid] + 1] = { what = "ended", at = rec.now() - t0, last = last and last.status, kind = err and err.kind }
    end,
    on_start_failed = function() ev[sid][#ev[sid] + 1] = { what = "start_failed", at = rec.now() - t0 } end,
  }
end
local ha = watcher("r-ha", "sid-ha")
local gone = watcher("r-gone", "sid-gone")
local multi = watcher("r-multi", "sid-multi")
local gap = watcher("r-gap", "sid-gap")

gone:wait()
-- the repro of issue 20: the old confirmation (5, 10, 15 s) called sid-ha ended at t=40 s
assert(#ev["sid-ha"] == 0, ("sid-ha (404 from 8 s to 53 s) was called %s at %.1f s"):format(
  tostring(ev["sid-ha"][1] and ev["sid-ha"][1].what), ev["sid-ha"][1] and ev["sid-ha"][1].at or -1))
local e = ev["sid-gone"]
assert(#e == 1 and e[1].what == "ended", "sid-gone: one on_ended, got " .. #e)
-- first 404 at the poll of t=10 s; ended at the first 404 answered 90 s or more after it
assert(e[1].at >= 10 + 90 and e[1].at < 10 + 90 + 6, ("sid-gone ended at %.1f s"):format(e[1].at))
assert(e[1].last == 5 and e[1].kind == "not_found", tostring(e[1].last) .. " " .. tostring(e[1].kind))
assert(gone:state(gone.key).ended == true, "ended is recorded once the window has passed")

multi:wait()
e = ev["sid-multi"]
assert(#e == 1 and e[1].what == "ended", "sid-multi: one on_ended, got " .. #e)
assert(e[1].at >= 500 + 90 and e[1].at < 500 + 90 + 15, ("sid-multi ended at %.1f s"):format(e[1].at))
assert(e[1].last == 5)

-- sid-ha has been recording all along (t is now past 590 s)
assert(rec.now() - t0 > 590)
assert(#ev["sid-ha"] == 0, "sid-ha: no callback, got " .. tostring(ev["sid-ha"][1] and ev["sid-ha"][1].what))
local st = ha:state(ha.key)
assert(st and not st.ended and st.status == 5, "sid-ha is not ended in the state file")
assert(ha:info()[1].state == "ok", ha:info()[1].state)
ha:stop()
ha:wait()
-- two failovers with an outage between them are two windows, not one 404 of 190 s
assert(#ev["sid-gap"] == 0, ("sid-gap was called %s at %.1f s"):format(
  tostring(ev["sid-gap"][1] and ev["sid-gap"][1].what), ev["sid-gap"][1] and ev["sid-gap"][1].at or -1))
st = gap:state(gap.key)
assert(st and not st.ended and st.status == 5, "sid-gap is not ended in the state file")
gap:stop()
gap:wait()
print("watch_agora_ha ok")
